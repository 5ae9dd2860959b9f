"""A Mem0 memory's history (`/v1/memories/{id}/history/`): every change the log holds of
it, in order: ADD, each UPDATE with the old and the new text, and DELETE; of a memory
stored as is, its versions; of one drawn by synthesis, its chain of facts."""

from datetime import datetime
from typing import Any

from litestar import Request, Response, get

from mnemo.contracts import FactChain, MemoryVersion
from mnemo.gateway.auth import authorize
from mnemo.gateway.compat.mem0_facts import fact_history
from mnemo.gateway.compat.mem0_memory import found_memory, version_stored
from mnemo.gateway.compat.mem0_shapes import history_entry, memory_json, ok


@get("/v1/memories/{memory_id:str}/history")
async def history(request: Request, memory_id: str) -> Response[bytes]:
    principal = await authorize(request, "memories")
    found = await found_memory(request, principal, memory_id)
    if isinstance(found, FactChain):
        return ok(fact_history(found))
    chain = found
    root = chain[0].memory_id
    entries = []
    # A memory deleted since keeps its changes, not its words (erased with it): null.
    for i, version in enumerate(chain):
        before = _words(chain[i - 1]) if i else None
        event = "UPDATE" if i else "ADD"
        entries.append(_change(root, version, event, before, _words(version), version.recorded_at))
        entries[-1]["actor"] = version.recorded_by
    last = chain[-1]
    if last.deleted_at is not None and last.replaced_by is None:
        entries.append(_change(root, last, "DELETE", _words(last), None, last.deleted_at))
        entries[-1]["actor"] = last.deleted_by
    return ok(entries)


def _words(version: MemoryVersion) -> str | None:
    return None if version.erased else version.content


def _change(
    root: str,
    version: MemoryVersion,
    event: str,
    old: str | None,
    new: str | None,
    at: datetime,
) -> dict[str, Any]:
    # One entry per event of the log: the version and what happened to it.
    shown = memory_json(version_stored(version))
    return history_entry(version.memory_id, root, event, old, new, at, shown, shown["metadata"])
