"""A fact and the facts that superseded it, in order: its chain.

A fact is never changed: a new fact supersedes it (synthesis reading a newer memory, or a
caller's supersede). Its chain, from the first fact to the one that holds now, is how a
fact's history reads, and how one surface (Mem0) keeps one id for what it calls a memory
while the facts behind it change.
"""

from datetime import datetime

import msgspec

from mnemo.contracts.queries import FactView


class FactChainsQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The chains of a user's facts, or (with `fact_id`, no user needed) the chain that
    holds that fact; with `agent_id`, only what that agent may reach."""

    tenant_id: str
    user_id: str | None = None
    fact_id: str | None = None
    agent_id: str | None = None


class FactChain(msgspec.Struct, frozen=True, kw_only=True):
    """`facts` from the first to the last (the current one, unless it was negated);
    `changed_at`: when anything last happened to the last one (a flag set on it, too)."""

    facts: list[FactView]
    changed_at: datetime


class FactChains(msgspec.Struct, frozen=True, kw_only=True):
    chains: list[FactChain]
