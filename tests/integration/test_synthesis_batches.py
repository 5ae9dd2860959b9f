"""Synthesis handles a fetched batch of memories at once (one read of each subject's state,
one append per subject): what it decides is what it decides one memory at a time, on the
real PostgreSQL log."""

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from mnemo.bus import Delivery
from mnemo.contracts import (
    Dropped,
    Envelope,
    MemoryRecorded,
    WithdrawAgent,
    derived_id,
    utcnow,
)
from mnemo.eventlog import EventStore, migrate
from mnemo.synthesis.agents import AgentWithdrawal
from mnemo.synthesis.handlers import (
    ReadModelHandlers,
    SynthesisHandlers,
    facts_stream,
    pass_stream,
)
from mnemo.synthesis.passes import SQL, PassTracker
from mnemo.synthesis.timelines import Timelines

TENANT = "t_batches"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def handlers(log_pool):
    async with log_pool.acquire() as conn:
        await migrate(conn, "synthesis", SQL)
    store = EventStore(log_pool)
    return SynthesisHandlers(store, PassTracker(log_pool), Timelines(log_pool, store)), store


def delivery(
    n: int,
    user_id: str,
    content: str,
    batch: str | None = None,
    items: int = 1,
    agent: str | None = None,
    recorded_at: datetime | None = None,
) -> Delivery:
    memory_id = derived_id("batches", user_id, str(n), content)
    envelope = Envelope(
        event_id=derived_id(memory_id, "event"),
        event_type="memory.recorded",
        tenant_id=TENANT,
        stream_id=f"memory-{memory_id}",
        stream_version=1,
        global_position=n,
        occurred_at=START + timedelta(minutes=n),
        recorded_at=recorded_at or START + timedelta(minutes=n),
        correlation_id=f"corr-{n}",
        causation_id=f"cause-{n}",
        actor="tests",
        service="ingest",
        data=MemoryRecorded(
            memory_id=memory_id,
            user_id=user_id,
            content=content,
            batch_id=batch,
            batch_user_items=items,
            agent_id=agent,
        ),
    )
    return as_delivery(envelope, n)


def as_delivery(envelope: Envelope, n: int) -> Delivery:
    """`envelope` as synthesis's consumer hands it over, the `n`th of its stream."""
    return Delivery(
        subject=f"evt.{envelope.event_type}",
        data=msgspec.json.encode(envelope),
        headers={},
        msg_id=envelope.event_id,
        tenant_id=envelope.tenant_id,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.causation_id,
        num_delivered=1,
        stream_sequence=n,
    )


def memory_id(d: Delivery) -> str:
    return d.decode(Envelope).data.memory_id


async def derived(store: EventStore, user_id: str) -> list[tuple[str, str]]:
    """(type, caused by) of what synthesis stored for the subject, in stream order."""
    return [
        (e.event_type, e.causation_id)
        for e in await store.read_stream(facts_stream(TENANT, user_id))
    ]


async def test_a_batch_decides_what_one_at_a_time_decides(handlers):
    """The same memories, handled as one batch for one subject and one by one for another,
    derive the same facts in the same order; a later memory in the batch supersedes an
    earlier one's fact, as it would had they come apart."""
    handle, store = handlers
    said = ["I live in Lisbon", "I love green tea", "I moved to Porto", "I work at Initech"]
    together = [delivery(i, "u_together", text) for i, text in enumerate(said)]
    apart = [delivery(i, "u_apart", text) for i, text in enumerate(said)]
    await handle.memories_recorded(together)
    for d in apart:
        await handle.memory_recorded(d)

    async def shape(user_id: str, ds: list[Delivery]) -> list[tuple[str, int]]:
        order = {d.decode(Envelope).event_id: i for i, d in enumerate(ds)}
        return [(kind, order[cause]) for kind, cause in await derived(store, user_id)]

    assert await shape("u_together", together) == await shape("u_apart", apart)
    kinds = [kind for kind, _ in await derived(store, "u_together")]
    assert kinds.count("memory.synthesized") == len(said)
    assert "fact.superseded" in kinds


async def test_a_redelivered_batch_stores_nothing_twice(handlers):
    """A memory seen twice in one batch, and a whole batch delivered again (a replica died
    before its ack), leave one `memory.synthesized` per memory and one pass."""
    handle, store = handlers
    batch = "batch-redelivered"
    ds = [delivery(i, "u_again", f"I like tea number {i}", batch, items=3) for i in range(3)]
    await handle.memories_recorded([ds[0], ds[0], ds[1], ds[2]])
    await handle.memories_recorded(ds)
    kinds = [kind for kind, _ in await derived(store, "u_again")]
    assert kinds.count("memory.synthesized") == 3
    [done] = await store.read_stream(pass_stream(TENANT, "u_again"))
    assert done.data.memory_ids == [memory_id(d) for d in ds]


async def test_a_batch_pass_completes_once_all_its_members_are_in(handlers):
    """A batch's pass over a user waits for all of that user's items, whichever deliveries
    they come in; memories outside a batch are passes of their own, and users apart."""
    handle, store = handlers
    batch = "batch-split"
    mine = [delivery(i, "u_split", f"I have {i} cats", batch, items=3) for i in range(3)]
    theirs = [delivery(10 + i, "u_other", f"I have {i} dogs", batch, items=2) for i in range(2)]
    alone = delivery(20, "u_split", "I am a nurse")
    await handle.memories_recorded([mine[0], theirs[0], alone, mine[1]])
    passes = await store.read_stream(pass_stream(TENANT, "u_split"))
    assert [p.data.memory_ids for p in passes] == [[memory_id(alone)]]
    assert await store.read_stream(pass_stream(TENANT, "u_other")) == []

    await handle.memories_recorded([theirs[1], mine[2]])
    passes = await store.read_stream(pass_stream(TENANT, "u_split"))
    assert [p.data.memory_ids for p in passes] == [
        [memory_id(alone)],
        [memory_id(d) for d in mine],
    ]
    assert passes[1].causation_id == mine[2].decode(Envelope).event_id
    [other] = await store.read_stream(pass_stream(TENANT, "u_other"))
    assert other.data.memory_ids == [memory_id(d) for d in theirs]


async def test_a_deleted_agents_memory_read_late_gives_nothing(handlers, log_pool):
    """A memory of an agent recorded before the agent was deleted, reaching synthesis only
    after (a backlog): read then, its facts would stand after the agent's withdrawal and be
    an agent made again with the id's. It is the deleted agent's: nothing is derived."""
    handle, store = handlers
    await handle.memory_recorded(delivery(1, "u_late", "I work at Initech", agent="a1"))
    read_models = ReadModelHandlers(log_pool)  # as its consumer projects them
    await read_models.apply(await store.read_stream(facts_stream(TENANT, "u_late")))
    withdrawal = AgentWithdrawal(log_pool, store, Timelines(log_pool, store), read_models)
    done = await withdrawal.withdraw(WithdrawAgent(tenant_id=TENANT, agent_id="a1", actor="t"))
    assert done == Dropped(removed=1)
    before = await derived(store, "u_late")

    await handle.memory_recorded(delivery(2, "u_late", "I live in Oslo", agent="a1"))
    assert await derived(store, "u_late") == before  # recorded before: the deleted agent's
    later = utcnow() + timedelta(hours=1)
    await handle.memory_recorded(
        delivery(3, "u_late", "I live in Bergen", agent="a1", recorded_at=later)
    )
    # Recorded after: the agent made again with the id.
    read_after = [t for t, _ in await derived(store, "u_late")][len(before) :]
    assert {"fact.extracted", "memory.synthesized"} <= set(read_after)


async def test_a_memory_deleted_before_synthesis_reads_it_gives_nothing_and_names_no_agent(
    handlers,
):
    """The memory was recorded and deleted before synthesis got to it (a backlog): read
    late, its facts would appear after its deletion (on an agent's event stream: an agent
    made again with the id saw them come and go). Nothing is drawn from it, and its
    withdrawal, which still marks it, names no agent."""
    from mnemo.contracts import MemoryDeleted, NewEvent, new_id

    from .helpers import new_event

    handle, store = handlers
    memory = new_id()
    stream = f"memory-{TENANT}-{memory}"

    def event(data: MemoryRecorded | MemoryDeleted) -> NewEvent:
        return new_event(data, TENANT)

    said = MemoryRecorded(memory_id=memory, user_id="u_gone", content="I work at Initech")
    [recorded] = await store.append(stream, [event(msgspec.structs.replace(said, agent_id="a9"))])
    gone = MemoryDeleted(memory_id=memory, user_id="u_gone", agent_id="a9")
    [deleted] = await store.append(stream, [event(gone)])

    await handle.memories_recorded([as_delivery(recorded, 1)])
    assert "fact.extracted" not in {t for t, _ in await derived(store, "u_gone")}
    await handle.memories_recorded([as_delivery(deleted, 2)])
    stored = await store.read_stream(facts_stream(TENANT, "u_gone"))
    withdrawn = [e.data for e in stored if e.event_type == "memory.withdrawn"]
    assert all(w.agent_id is None for w in withdrawn)
    assert not [e for e in stored if e.event_type == "fact.extracted"]

    # Read in time, then its agent deleted (its memory first): the withdrawal appended
    # after the agent's deletion is the deleted agent's, and names nobody.
    read = MemoryRecorded(memory_id=new_id(), user_id="u_late2", content="I work at Initech")
    later = f"memory-{TENANT}-{read.memory_id}"
    [first] = await store.append(later, [event(msgspec.structs.replace(read, agent_id="a8"))])
    await handle.memories_recorded([as_delivery(first, 3)])
    assert "memory.synthesized" in {t for t, _ in await derived(store, "u_late2")}
    # Its deletion recorded after the agent's (the agent's sweep comes after it is gone).
    await store.retire_agent(TENANT, "a8", 0)
    end = MemoryDeleted(memory_id=read.memory_id, user_id="u_late2", agent_id="a8")
    [ended] = await store.append(later, [event(end)])
    await handle.memories_recorded([as_delivery(ended, 4)])
    stored = await store.read_stream(facts_stream(TENANT, "u_late2"))
    [late] = [e.data for e in stored if e.event_type == "memory.withdrawn"]
    assert late.agent_id is None
    # A memory of the agent made again with the id (recorded after): its own, named.
    again = MemoryRecorded(memory_id=new_id(), user_id="u_late2", content="I work at Globex")
    anew = f"memory-{TENANT}-{again.memory_id}"
    [second] = await store.append(anew, [event(msgspec.structs.replace(again, agent_id="a8"))])
    await handle.memories_recorded([as_delivery(second, 5)])
    gone2 = MemoryDeleted(memory_id=again.memory_id, user_id="u_late2", agent_id="a8")
    [ended2] = await store.append(anew, [event(gone2)])
    await handle.memories_recorded([as_delivery(ended2, 6)])
    stored = await store.read_stream(facts_stream(TENANT, "u_late2"))
    named = [e.data.agent_id for e in stored if e.event_type == "memory.withdrawn"]
    assert named == [None, "a8"]


async def test_an_event_delivered_after_its_subject_was_projected_again_is_not_recorded_again(
    handlers, log_pool
):
    """The agent's withdrawal projects its subject again at once (reads after the deletion
    of the agent); the read models' consumer, behind, then delivered the facts stream's
    earlier events, and recorded again the agent's fact the withdrawal had removed (until
    the consumer reached the withdrawal)."""
    handle, store = handlers
    await handle.memory_recorded(delivery(1, "u_behind", "I work at Initech", agent="a1"))
    events = await store.read_stream(facts_stream(TENANT, "u_behind"))
    read_models = ReadModelHandlers(log_pool)

    async def facts() -> int:
        return await log_pool.fetchval(
            "SELECT count(*) FROM synthesis.facts WHERE tenant_id = $1 AND user_id = $2",
            TENANT,
            "u_behind",
        )

    withdrawal = AgentWithdrawal(log_pool, store, Timelines(log_pool, store), read_models)
    await read_models.apply(events)
    assert await facts() >= 1
    await withdrawal.withdraw(WithdrawAgent(tenant_id=TENANT, agent_id="a1", actor="t"))
    assert await facts() == 0
    await read_models.apply(events)  # the consumer, behind, delivers them again
    assert await facts() == 0
