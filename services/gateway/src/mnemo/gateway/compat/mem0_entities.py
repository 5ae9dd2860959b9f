"""Mem0's key check (`/v1/ping/`), its entities: the users, agents and runs that hold
memories (`/v1/entities/`), deleting one (`DELETE /v2/entities/{type}/{name}/`), and a
user's summary (`/v1/summary/`: the profile synthesis keeps of them)."""

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar import Request, Response, delete, get, post

from mnemo.contracts import Profile, ProfileQuery, ScopeList, ScopesQuery
from mnemo.gateway.auth import agent_scope, authorize
from mnemo.gateway.compat.mem0_deletion import ACCOUNT_PARAMS, delete_scope
from mnemo.gateway.compat.mem0_shapes import ok, scope_of
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.validation import object_body, only_params

# Mem0's entity types and the scope each names (an app has no counterpart in Mnemo).
_TYPES = {"user": "user_id", "agent": "agent_id", "run": "run_id"}
_KINDS = {"user": "user", "agent": "agent", "session": "run"}


@get("/v1/ping")
async def ping(request: Request) -> Response[bytes]:
    """What the client reads when it is built: the key works, and its organisation and
    project (here the tenant, and the agent of an agent key)."""
    principal = await authorize(request, "memories")
    return ok(
        {
            "status": "ok",
            "message": "pong",
            "org_id": principal.tenant_id,
            "project_id": principal.agent_id or "default",
            "user_email": None,
        }
    )


@get("/v1/entities")
async def entities(request: Request) -> Response[bytes]:
    principal = await authorize(request, "memories")
    query = ScopesQuery(tenant_id=principal.tenant_id, agent_id=agent_scope(principal, None))
    found = await deps_of(request).ask(
        request, "retrieval", "scopes", query, ScopeList, principal.tenant_id
    )
    assert isinstance(found, ScopeList)
    results = [
        {
            "id": scope.id,
            "name": scope.id,
            "type": _KINDS[scope.kind],
            "total_memories": scope.memories,
            "owner": principal.tenant_id,
            "organization": principal.tenant_id,
            "metadata": None,
            "created_at": scope.first_recorded_at,
            "updated_at": scope.last_recorded_at,
        }
        for scope in found.scopes
    ]
    return ok({"count": len(results), "next": None, "previous": None, "results": results})


# The name as the client sent it: the rest of the raw path (the router's path has `//`
# collapsed and `/` stripped at either end), less the one `/` Mem0's client ends it with.
_RAW_NAME = re.compile(rb"^(?:/mem0)?/v2/entities/[^/]+/(.*?)/?$", re.DOTALL)


def entity_name(scope: Any, routed: str) -> str:
    """The entity's name from the raw path: Mem0 takes any string as a user, agent or run
    id (`alice/`, `a//b` too), and one read from the router's path named another (a master
    key's delete of `alice/` forgot `alice`)."""
    raw = scope.get("raw_path")
    found = _RAW_NAME.match(raw) if isinstance(raw, bytes) else None
    # The input guard let through only a raw path that is UTF-8 once percent-decoded.
    return unquote_to_bytes(found.group(1)).decode("utf-8") if found else routed.strip("/")


@delete("/v2/entities/{kind:str}/{name:path}", status_code=200)
async def delete_entity(request: Request, kind: str, name: str) -> Response[bytes]:
    """Every memory of the entity (a user's, with a master key: the user forgotten). The
    name is the rest of the path: Mem0 takes any string as a user, agent, app or run id,
    and its client puts the id in the path as it is, so one holding `/` spans segments
    (`%2F` is decoded before routing too): a name of one segment could not be deleted."""
    name = entity_name(request.scope, name)
    principal = await authorize(request, "forget")
    only_params(request, ACCOUNT_PARAMS)
    field = _TYPES.get(kind)
    if field is None:
        raise Problem(
            400, "UNSUPPORTED", f"entity type must be one of {', '.join(_TYPES)}", field="type"
        )
    deleted = await delete_scope(request, principal, scope_of({field: name}))
    return ok({"message": "Entity deleted successfully!", "deleted": deleted})


@post("/v1/summary", status_code=200)
async def summary(request: Request) -> Response[bytes]:
    """The user's profile: what holds of them for good (static) and for now (dynamic)."""
    principal = await authorize(request, "context")
    body = await object_body(request)
    scope = scope_of(body, body.get("filters"))
    if scope.user_id is None:
        raise Problem(400, "INVALID_REQUEST", "filters need a user_id", field="filters.user_id")
    query = ProfileQuery(
        tenant_id=principal.tenant_id,
        user_id=scope.user_id,
        agent_id=agent_scope(principal, scope.agent_id, "agent_id"),
    )
    profile = await deps_of(request).ask(
        request, "synthesis", "profile", query, Profile, principal.tenant_id
    )
    assert isinstance(profile, Profile)
    lines = [*profile.static, *profile.dynamic]
    return ok(
        {
            "user_id": scope.user_id,
            "summary": "\n".join(lines),
            "static": profile.static,
            "dynamic": profile.dynamic,
        }
    )
