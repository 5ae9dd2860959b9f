"""A scope of memories to delete at once (Mem0's delete_all by run, app or metadata, alone
or with a user or an agent): who they are of (user and agent in clear in the log, the
session as a keyed digest: found by index) and what their metadata holds (sealed: matched
on the opened event).

A deletion of a scope marks the command stream (`EventStore.mark_scope`), so that a memory
command of the scope accepted before it and recorded after it (a backlog) is dropped. The
mark keeps no metadata value: only where to look (the keys) and an HMAC-SHA256, under the
server's secret and the tenant, of the values wanted there, which an append compares with
the digest of what its memory holds at those keys.
"""

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

_json = msgspec.json.Encoder(order="sorted")

# A path into a memory's metadata (("topic",), or ("mem0", "app_id")) and the value wanted.
Path = tuple[str, ...]


@dataclass(frozen=True)
class MemoryScope:
    """Every memory of `tenant_id` of the user, agent and session named (None: any) whose
    metadata holds each value at its path (a missing key holds None)."""

    tenant_id: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None
    metadata: tuple[tuple[Path, Any], ...] = ()

    def holds(self, memory: Any) -> bool:
        """Whether a recorded memory (its `MemoryRecorded` data, opened) is in the scope."""
        for name in ("user_id", "agent_id", "session_id"):
            wanted = getattr(self, name)
            if wanted is not None and getattr(memory, name, None) != wanted:
                return False
        found = getattr(memory, "metadata", None) or {}
        return all(value_at(found, path) == value for path, value in self.metadata)

    @property
    def paths(self) -> list[list[str]]:
        return [list(path) for path, _ in self.metadata]

    def digest(self, secret: str) -> str:
        """The mark's digest of the values wanted ('' when the scope names none)."""
        if not self.metadata:
            return ""
        return values_digest(secret, self.tenant_id, list(self.metadata))


def value_at(metadata: Any, path: Sequence[str]) -> Any:
    """The value at `path` in `metadata`, or None where there is none."""
    for key in path:
        if not isinstance(metadata, dict):
            return None
        metadata = metadata.get(key)
    return metadata


def session_tag(secret: str, tenant_id: str, session_id: str) -> str:
    """What the log keeps in clear of a memory's session (and a scope's mark of it): an
    HMAC-SHA256 keyed per tenant by the server's secret, never the session's name."""
    key = hmac.new(
        secret.encode(), b"mnemo-session-tag\x1f" + tenant_id.encode(), hashlib.sha256
    ).digest()
    return hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()[:32]


def values_digest(secret: str, tenant_id: str, values: Sequence[tuple[Path, Any]]) -> str:
    """HMAC-SHA256 of the values with their paths (canonical JSON: the same values at other
    paths are another scope), keyed per tenant by the server's secret."""
    key = hmac.new(
        secret.encode(), b"mnemo-scope-marks\x1f" + tenant_id.encode(), hashlib.sha256
    ).digest()
    return hmac.new(key, _json.encode(list(values)), hashlib.sha256).hexdigest()
