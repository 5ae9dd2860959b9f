"""Deleting every Mem0 memory of a scope (`DELETE /v1/memories/?user_id=…`, and the
entities' deletes)."""

import ast
import json
from typing import Any

from litestar import Request, Response, delete

from mnemo.contracts import MetadataEquality
from mnemo.gateway.auth import Principal, agent_scope, authorize
from mnemo.gateway.compat.mem0_memories import native_scope, records
from mnemo.gateway.compat.mem0_shapes import ENTITY_FIELDS, MEM0_KEY, Scope, ok, scope_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.forget import forget_subject
from mnemo.gateway.routes.memories import (
    remove_agent_memories,
    remove_memory,
    remove_scope_memories,
)
from mnemo.gateway.validation import only_params


async def delete_scope(request: Request, principal: Principal, scope: Scope) -> int:
    """Delete the scope's memories. A master key naming only a user forgets that user
    (every memory, fact and entity of theirs, crypto-shredded: DELETE /v1/user); anything
    narrower deletes each memory in it (each a `memory.deleted`): every one accepted
    before the answer, whether the read model, the log or the command stream holds it."""
    only_user = scope.user_id is not None and scope == Scope(user_id=scope.user_id)
    if only_user and principal.is_master:
        assert scope.user_id is not None
        done = await forget_subject(request, principal, scope.user_id, "user_id")
        return done.removed.get("memory.recorded", 0)
    user_id, agent_id = native_scope(principal, scope)
    if agent_id is not None and scope.run_id is None and not scope.post_filtered:
        # An agent's memories (of one user, or of all): those the log holds too, whether
        # or not the read model has them yet, a share to an ask of ingest.
        return await remove_agent_memories(request, principal, agent_id, user_id=user_id)
    # A run's, an app's, metadata's (alone or with a user or an agent): those the log
    # holds, whether or not the read model has them yet, a share to an ask of ingest,
    # which opens them to match the app and metadata (sealed in the log). The first ask
    # marks the command stream, so one of the scope still on its way is dropped.
    deleted = await remove_scope_memories(
        request,
        principal,
        user_id=user_id,
        agent_id=agent_id,
        session_id=scope.run_id,
        metadata=_equalities(scope),
    )
    # Then what the read model lists (a memory recorded before the log kept its session
    # in clear is found only there): every id first, then each deletion (deleting while
    # paging shifts the pages).
    found = [s for s in await records(request, principal, scope) if scope.matches(s.metadata)]
    scoped = agent_scope(principal, None)
    for stored in found:
        if stored.memory_id not in deleted:
            removed = await remove_memory(request, principal, stored.memory_id, scoped)
            deleted.add(removed.memory_id)
    return len(deleted)


def _equalities(scope: Scope) -> list[MetadataEquality]:
    """What `Scope.matches` asks of a memory's metadata, as ingest matches it in the log:
    the app in the Mem0 record (`metadata.mem0.app_id`), and each metadata equality."""
    found = [MetadataEquality(path=[MEM0_KEY, "app_id"], value=scope.app_id)]
    found = found if scope.app_id is not None else []
    found.extend(MetadataEquality(path=[k], value=v) for k, v in scope.metadata.items())
    return found


# What a Mem0 client may send beside the scope: its organization and project, which are
# the key's own here (a tenant, and its agent or "default": GET /v1/entities says so).
ACCOUNT_PARAMS = ("org_id", "project_id")
_DELETE_PARAMS = (*ENTITY_FIELDS, "metadata", "filters", *ACCOUNT_PARAMS)
# A query parameter holding an object: JSON, or (mem0ai's client, whose httpx writes a dict
# as Python writes it) a Python literal, read by `ast.literal_eval` up to this many
# characters.
_MAX_LITERAL = 8192


def object_param(request: Request, name: str) -> dict[str, Any] | None:
    """Query parameter `name` as an object (None when not sent); anything else is a 400
    naming it, never a parameter ignored (a delete would then reach more)."""
    text = request.query_params.get(name)
    if text is None:
        return None
    value: Any = None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        if len(text) <= _MAX_LITERAL:
            try:
                value = ast.literal_eval(text)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                value = None
    if (
        not isinstance(value, dict)
        or not all(isinstance(k, str) for k in value)
        or not _plain(value)
    ):
        raise Problem(
            400, "INVALID_REQUEST", f"{name} must be an object (JSON) of named values", field=name
        )
    return value


def _no_constant(name: str) -> Any:
    # NaN and Infinity are no JSON: sent on as null, they matched memories without the key.
    raise ValueError(f"{name} is not a JSON value")


def _plain(value: Any, depth: int = 0) -> bool:
    """Only what JSON holds (a Python literal may be a set, bytes, a complex number)."""
    if depth > 32:
        return False
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


@delete("/v1/memories", status_code=200)
async def delete_all(request: Request) -> Response[bytes]:
    """The memories every parameter names, no more: `user_id`, `agent_id`, `app_id`,
    `run_id`, `metadata` (equalities) and `filters` (as a search takes them, AND only);
    another parameter is a 400 (one ignored made the delete reach further)."""
    principal = await authorize(request, "forget")
    only_params(request, _DELETE_PARAMS)
    params = {k: request.query_params.get(k) for k in ENTITY_FIELDS}
    clauses: list[dict[str, Any]] = []
    if (filters := object_param(request, "filters")) is not None:
        clauses.append(filters)
    if (metadata := object_param(request, "metadata")) is not None:
        clauses.append({"metadata": metadata})
    scope = scope_of(params, {"AND": clauses} if clauses else None)
    if scope == Scope():
        raise Problem(
            400,
            "INVALID_REQUEST",
            "name the memories to delete: user_id, agent_id, app_id or run_id",
            field="user_id",
        )
    deleted = await delete_scope(request, principal, scope)
    return ok({"message": "Memories deleted successfully!", "deleted": deleted})
