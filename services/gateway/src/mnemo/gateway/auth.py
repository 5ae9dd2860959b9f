"""Who is calling. For now one development key per deployment; scoped keys come later."""

import hmac
from dataclasses import dataclass

from litestar import Request

from mnemo.gateway.problems import Problem
from mnemo.gateway.settings import GatewaySettings


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    actor: str


def authenticate(request: Request, settings: GatewaySettings) -> Principal:
    """The caller's principal from `Authorization: Bearer <key>`, else 401."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(401, "UNAUTHORIZED", "send your API key as 'Authorization: Bearer <key>'")
    key = key.strip()
    expected = settings.dev_api_key
    if expected is None or not hmac.compare_digest(key.encode(), expected.encode()):
        raise Problem(401, "UNAUTHORIZED", "the API key is invalid or revoked")
    principal = Principal(tenant_id=settings.dev_tenant, actor=f"key:{key[:8]}")
    state = request.scope["state"]
    state["tenant_id"] = principal.tenant_id
    state["actor"] = principal.actor
    return principal


async def authorize(request: Request, action: str) -> Principal:
    """Authenticate, then charge the call to the key's rate limit and the tenant's quota."""
    from mnemo.gateway.deps import deps_of

    deps = deps_of(request)
    principal = authenticate(request, deps.settings)
    key = request.headers.get("authorization", "").partition(" ")[2].strip()
    usage = await deps.limits.charge(principal.tenant_id, key, action)
    if usage is not None:
        request.scope["state"]["rate_usage"] = usage
    return principal
