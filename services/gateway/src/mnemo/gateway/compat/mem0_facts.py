"""What Mem0 calls the memories of an `infer` add: the facts synthesis derives from it.

Each is a chain of facts (mnemo.contracts.chains): its Mem0 id is the first fact's, its
text the last one's. An update supersedes the last fact with the new text and a delete
contradicts it (both events in the log, with the caller as actor; the fact is kept,
flagged, as every contradicted fact is); the history is the chain. A fact is shown while
a memory it was drawn from is: deleting that memory (or forgetting its user) hides it.
"""

from datetime import datetime
from typing import Any

from litestar import Request

from mnemo.contracts import ChangeFact, FactChain, FactChains, FactChainsQuery, FactChange
from mnemo.gateway.auth import Principal, agent_scope
from mnemo.gateway.compat.mem0_shapes import (
    MEM0_KEY,
    Stored,
    history_entry,
    mem0_of,
    memory_json,
    own_metadata,
)
from mnemo.gateway.deps import deps_of
from mnemo.gateway.problems import Problem
from mnemo.gateway.retries import retry_seed
from mnemo.gateway.secrets import redacted

RETRACTED = "deleted through the Mem0 API"
# An agent-wide listing reads the facts of at most this many users.
MAX_USERS = 100


async def chains(
    request: Request,
    principal: Principal,
    *,
    user_id: str | None = None,
    fact_id: str | None = None,
) -> list[FactChain]:
    query = FactChainsQuery(
        tenant_id=principal.tenant_id,
        user_id=user_id,
        fact_id=fact_id,
        agent_id=agent_scope(principal, None),
    )
    try:
        found = await deps_of(request).ask(
            request, "synthesis", "fact_chains", query, FactChains, principal.tenant_id
        )
    except Problem as problem:
        if problem.status == 404:
            return []
        raise
    assert isinstance(found, FactChains)
    return found.chains


def live(chain: FactChain) -> bool:
    last = chain.facts[-1]
    return last.status == "current" and not last.contradicted


def fact_stored(chain: FactChain, source: Stored | None = None) -> Stored:
    """The chain as a Mem0 memory; `source`: the memory it was drawn from (it shows the
    user, agent, app, run and metadata the add named)."""
    first, last = chain.facts[0], chain.facts[-1]
    given = mem0_of(source.metadata) if source else {}
    named = {k: v for k, v in given.items() if k in ("user_id", "agent_id", "app_id", "run_id")}
    mem0 = {
        "user_id": last.user_id,
        "agent_id": last.agent_id,
        **named,
        "id": first.fact_id,
        "categories": [last.category],
        "created_at": first.recorded_at,
    }
    metadata = {**own_metadata(source.metadata), MEM0_KEY: mem0} if source else {MEM0_KEY: mem0}
    return Stored(first.fact_id, last.statement, metadata, chain.changed_at)


def is_inferred(stored: Stored) -> bool:
    """Stored by an add with `infer` (the default): shown as the facts drawn from it."""
    return bool(mem0_of(stored.metadata).get("infer"))


def inferred(sources: list[Stored], found: list[FactChain]) -> list[tuple[Stored, Stored]]:
    """(the chain as a Mem0 memory, the memory it was first drawn from) of each live chain
    drawn from one of `sources`."""
    by_id = {s.memory_id: s for s in sources if is_inferred(s)}
    shown = []
    for chain in found:
        drawn = [by_id[e.memory_id] for e in chain.facts[0].evidence if e.memory_id in by_id]
        if drawn and live(chain):
            shown.append((fact_stored(chain, drawn[0]), drawn[0]))
    return shown


async def facts_of(
    request: Request, principal: Principal, sources: list[Stored]
) -> list[tuple[Stored, Stored]]:
    """inferred() over the facts of every user among `sources` (at most MAX_USERS)."""
    users = sorted({s.user_id for s in sources if s.user_id and is_inferred(s)})[:MAX_USERS]
    shown = []
    for user_id in users:
        shown.extend(inferred(sources, await chains(request, principal, user_id=user_id)))
    return shown


async def fact_chain(request: Request, principal: Principal, fact_id: str) -> FactChain | None:
    found = await chains(request, principal, fact_id=fact_id)
    return found[0] if found else None


async def _change(
    request: Request, principal: Principal, chain: FactChain, **fields: Any
) -> FactChange:
    command = redacted(
        ChangeFact(
            tenant_id=principal.tenant_id,
            fact_id=chain.facts[-1].fact_id,
            actor=principal.actor,
            agent_id=agent_scope(principal, None),
            retry_key=await retry_seed(request, principal),
            **fields,
        ),
        "content",
    )
    done = await deps_of(request).ask(
        request, "synthesis", "change_fact", command, FactChange, principal.tenant_id
    )
    assert isinstance(done, FactChange)
    return done


async def revise_fact(
    request: Request, principal: Principal, chain: FactChain, text: str
) -> dict[str, Any]:
    done = await _change(request, principal, chain, change="supersede", content=text)
    assert done.new_fact is not None
    changed = FactChain(facts=[*chain.facts, done.new_fact], changed_at=done.new_fact.recorded_at)
    return {**memory_json(fact_stored(changed)), "text": done.new_fact.statement}


async def retract_fact(request: Request, principal: Principal, chain: FactChain) -> None:
    await _change(request, principal, chain, change="contradict", reason=RETRACTED)


def fact_history(chain: FactChain) -> list[dict[str, Any]]:
    root = chain.facts[0].fact_id
    shown = memory_json(fact_stored(chain))
    entries: list[tuple[str, str, str | None, str | None, datetime]] = []
    for i, fact in enumerate(chain.facts):
        before = chain.facts[i - 1].statement if i else None
        event = "UPDATE" if i else "ADD"
        entries.append((fact.fact_id, event, before, fact.statement, fact.recorded_at))
    if not live(chain):
        last = chain.facts[-1]
        entries.append((last.fact_id, "DELETE", last.statement, None, chain.changed_at))
    return [
        history_entry(fact_id, root, event, old, new, at, shown, None)
        for fact_id, event, old, new, at in entries
    ]
