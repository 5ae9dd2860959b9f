"""Who holds memories in a tenant: its users, agents and sessions, with how many each."""

from datetime import datetime

import msgspec

# What a scope can be: the subject (user), the agent, or the session.
SCOPE_KINDS = ("user", "agent", "session")


class ScopesQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The users, agents and sessions with memories (most recent first, at most `limit`
    of each); with `agent_id`, only within that agent's memories."""

    tenant_id: str
    agent_id: str | None = None
    limit: int = 100


class ScopeCount(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # one of SCOPE_KINDS
    id: str
    memories: int
    first_recorded_at: datetime
    last_recorded_at: datetime


class ScopeList(msgspec.Struct, frozen=True, kw_only=True):
    scopes: list[ScopeCount]
