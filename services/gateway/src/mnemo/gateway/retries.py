"""What fixes the ids a write makes, on every retry of one request: its Idempotency-Key.

The kept answer replays a retry, but it can be gone when the retry comes: a forget erases
the tenant's kept answers, a gateway killed after the write and before it kept the answer
leaves an unrenewed claim that the retry takes over, and NATS away at that instant keeps
nothing. The retry then runs the handler again; what it writes must then be what the first
run wrote (the same ids), so that it is stored once. POST /v1/ingest does it with its
items' ids (routes/ingest.py); the writes that ask a service do it with this seed.
"""

import hashlib

from litestar import Request

from mnemo.contracts import derived_id
from mnemo.gateway.auth import Principal


async def retry_seed(request: Request, principal: Principal) -> str | None:
    """A seed of the ids this request writes, the same on a retry with its Idempotency-Key
    (tenant, calling key, method, path and body too: the same key with another body is
    another write), or None without a key (each sending is then a write of its own).

    The calling key is part of it, as kept answers are kept per calling key: another key
    sending the same Idempotency-Key (a second key of the same agent, the master key, both
    naming their writes alike, `validate-<fact>`) makes its own change, with itself as its
    actor, and is never answered the first caller's (its validation was not recorded)."""
    key = request.headers.get("idempotency-key")
    if not key:
        return None
    body = hashlib.sha256(await request.body()).hexdigest()
    return derived_id(
        "retry",
        principal.tenant_id,
        principal.key_id,
        request.method,
        request.url.path,
        key,
        body,
    )


def retry_agent_id(seed: str | None) -> str | None:
    """The id of the agent a request makes without naming one, fixed by its seed."""
    return None if seed is None else derived_id(seed, "agent")
