"""The Mem0 platform API's shapes: its errors, its entity filters, and its memory objects.

Mem0 scopes a memory by `user_id`, `agent_id`, `app_id` and `run_id`. They map onto
Mnemo's subject (user_id; an agent's own memories, sent without a user, are about the
agent: user_id = agent_id), agent and session (run_id); `app_id` has no counterpart and
is kept in the memory's metadata with the other Mem0 fields, under the key `mem0`, which
is how a memory stored here is shown back in Mem0's shape.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from litestar import Response

from mnemo.contracts.limits import MAX_ID_CHARS
from mnemo.gateway.problems import Problem
from mnemo.gateway.routes.ingest import MEM0_KEY
from mnemo.gateway.validation import WILDCARD, as_json, check_not_wildcard

ENTITY_FIELDS = ("user_id", "agent_id", "app_id", "run_id")
# What Mem0 calls a memory's fields, for the native names a refusal may give.
MEM0_NAMES = {
    "userId": "user_id",
    "agentId": "agent_id",
    "sessionId": "run_id",
    "content": "messages",
}


def ok(body: Any) -> Response[bytes]:
    return Response(as_json(body), media_type="application/json")


def mem0_refusal(problem: Problem) -> Response[bytes]:
    """A problem as Mem0 answers it (Django REST framework): `{"detail": ...}`, 400 for
    any bad input; also for input refused before routing."""
    status = 400 if problem.status == 422 else problem.status
    name = problem.details.get("field")
    text = f"{name}: {problem.detail}" if name and name not in problem.detail else problem.detail
    extra = {"code": problem.code, **({"field": name} if name else {})}
    body = {"detail": text, **extra}
    return Response(
        as_json(body), status_code=status, media_type="application/json", headers=problem.headers
    )


@dataclass(frozen=True)
class Scope:
    """The entity ids a call names (a filter's equalities), and metadata to match."""

    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def matches(self, metadata: dict[str, Any]) -> bool:
        """What Mnemo's queries cannot filter on: app_id and metadata equalities."""
        mem0 = mem0_of(metadata)
        if self.app_id is not None and mem0.get("app_id") != self.app_id:
            return False
        return all(metadata.get(k) == v for k, v in self.metadata.items())

    @property
    def post_filtered(self) -> bool:
        return self.app_id is not None or bool(self.metadata)


def scope_of(values: dict[str, Any], filters: Any = None, *, wildcard: bool = False) -> Scope:
    """The scope named by top-level entity ids and `filters`: flat equalities
    (`{"user_id": "alice"}`), or an `AND` of them. `"*"` means any where `wildcard` (a read
    filter: list, search); anywhere else (an add, a delete, an entity) an id must name
    one, and `"*"` is refused: taken as any, a delete would reach everyone."""
    found: dict[str, Any] = {k: values[k] for k in ENTITY_FIELDS if values.get(k) is not None}
    metadata: dict[str, Any] = {}

    def conflicting(field: str) -> Problem:
        # An AND of two values names nothing: taken as the last, a delete reached another
        # user (forgot them) than the one named first.
        return Problem(
            400, "INVALID_REQUEST", f"{field} is given two different values", field=field
        )

    for clause in _clauses(filters):
        for key, value in clause.items():
            if key == "metadata" and isinstance(value, dict):
                for name, wanted in value.items():
                    if name in metadata and metadata[name] != wanted:
                        raise conflicting(f"metadata.{name}")
                    metadata[name] = wanted
            elif key in ENTITY_FIELDS:
                if key in found and found[key] != value:
                    raise conflicting(key)
                found[key] = value
            else:
                raise Problem(
                    400,
                    "UNSUPPORTED_FILTER",
                    f"filter {key!r} is not supported here (only {', '.join(ENTITY_FIELDS)},"
                    " metadata equalities and AND)",
                    field=f"filters.{key}",
                )
    for key, value in found.items():
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS:
            raise Problem(
                400,
                "INVALID_REQUEST",
                f"{key} must be a string of 1-{MAX_ID_CHARS} characters",
                field=key,
            )
        if not wildcard:
            check_not_wildcard(value, key)
    ids = {k: (None if v == WILDCARD else v) for k, v in found.items()}
    return Scope(**ids, metadata=metadata)


def _clauses(filters: Any) -> list[dict[str, Any]]:
    if filters is None:
        return []
    if not isinstance(filters, dict):
        raise Problem(400, "INVALID_REQUEST", "filters must be an object", field="filters")
    if set(filters) == {"AND"} and isinstance(filters["AND"], list):
        clauses = filters["AND"]
        if not all(isinstance(c, dict) for c in clauses):
            raise Problem(400, "INVALID_REQUEST", "AND takes objects", field="filters.AND")
        return [c for clause in clauses for c in _clauses(clause)]
    if "OR" in filters or "NOT" in filters:
        raise Problem(
            400, "UNSUPPORTED_FILTER", "OR and NOT filters are not supported", field="filters"
        )
    return [filters]


@dataclass(frozen=True)
class Stored:
    """What Mnemo holds of a memory, whichever query found it."""

    memory_id: str
    content: str
    metadata: dict[str, Any]
    updated_at: datetime
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None


class _Mem0Book(msgspec.Struct, forbid_unknown_fields=False):
    """What the Mem0 surface keeps under `metadata.mem0`, as each field is read back."""

    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    id: str | None = None
    infer: bool = False
    added: list[str] = []
    categories: list[Any] = []
    created_at: Any = None  # shown as it is (a time, as text once stored)


def mem0_of(metadata: dict[str, Any]) -> dict[str, Any]:
    """The Mem0 surface's own record of a memory (`metadata.mem0`), or {}: every other
    surface refuses the key (`SURFACE_KEYS`), but one could write it of any shape before
    (`{"added": 5}`), which is then no Mem0 record and never read as one (it made every Mem0
    read of the user a 500)."""
    found = metadata.get(MEM0_KEY)
    if not isinstance(found, dict):
        return {}
    try:
        msgspec.convert(found, _Mem0Book)
    except msgspec.ValidationError:
        return {}
    return found


def own_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The caller's metadata: without the Mem0 fields and what this surface added (a
    message's role and name, kept where synthesis reads who is speaking)."""
    added = set(mem0_of(metadata).get("added", []))
    return {k: v for k, v in metadata.items() if k != MEM0_KEY and k not in added}


def _first_time(kept: Any, default: datetime) -> Any:
    """The first version's time, which later versions keep as text in their `mem0`
    metadata, shown as every other time is (`…Z`, not `…+00:00`: an update changed how a
    memory's `created_at` was written)."""
    if isinstance(kept, str):
        try:
            return datetime.fromisoformat(kept)
        except ValueError:
            return kept
    return default if kept is None else kept


def memory_json(stored: Stored, **extra: Any) -> dict[str, Any]:
    """A memory as Mem0 shows one; the first version's id and time stay its own across
    revisions (they ride in the `mem0` metadata of each later version). A memory stored
    through another surface shows its user, agent and session."""
    metadata = stored.metadata
    mem0 = mem0_of(metadata)
    own = own_metadata(metadata)
    content = stored.content
    updated_at = stored.updated_at
    # What no Mem0 add named (a memory stored through another surface): Mnemo's own.
    native = {"user_id": stored.user_id, "agent_id": stored.agent_id, "run_id": stored.session_id}
    named = {k: mem0[k] if k in mem0 else native.get(k) for k in ENTITY_FIELDS}
    return {
        "id": mem0.get("id", stored.memory_id),
        "memory": content,
        **named,
        "hash": hashlib.md5(content.encode(), usedforsecurity=False).hexdigest(),
        "metadata": own or None,
        "categories": mem0.get("categories", []),
        "created_at": _first_time(mem0.get("created_at"), updated_at),
        "updated_at": updated_at,
        "expiration_date": None,
        "immutable": False,
        **extra,
    }


def history_entry(
    entry_id: str,
    root: str,
    event: str,
    old: str | None,
    new: str | None,
    at: datetime,
    shown: dict[str, Any],
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """One entry of a Mem0 memory's history: what `event` (ADD, UPDATE, DELETE) did at
    `at`, under the memory `root`, with the scope of `shown` (its memory_json)."""
    return {
        "id": f"{entry_id}:{event.lower()}",
        "memory_id": root,
        "old_memory": old,
        "new_memory": new,
        "event": event,
        "input": [],
        "user_id": shown["user_id"],
        "agent_id": shown["agent_id"],
        "run_id": shown["run_id"],
        "metadata": metadata,
        "categories": shown["categories"],
        "is_deleted": event == "DELETE",
        "created_at": at,
        "updated_at": at,
    }
