"""The audit takes events from the log, not the bus: each event's entry is the one its
delivery made, the follower resumes at its checkpoint, and reading again adds nothing.

Real PostgreSQL (the log, the audit's table) and NATS (the relay's delivery, compared)."""

import msgspec

from mnemo.audit.bootstrap import SQL
from mnemo.audit.entries import entry_row
from mnemo.audit.log_events import FOLLOWER, follower
from mnemo.bus.consumer import _delivery
from mnemo.contracts import ExtractedFact, FactExtracted, Topology
from mnemo.eventlog import EventStore, Relay, migrate
from mnemo.eventlog.keyring import KeyRing
from mnemo.eventlog.sealing import CLEAR_FIELDS

from .helpers import memory_event, new_event, stream_messages

_ROWS = """SELECT tenant_id, message_id, kind, type, service, correlation_id, causation_id,
    subject, "timestamp", trace_id, data::text AS data FROM audit.entries ORDER BY message_id"""


def decoded(row: tuple) -> tuple:
    """A row with its data (JSON, as stored in jsonb or as sent) decoded."""
    return (*row[:-1], msgspec.json.decode(row[-1]))


async def test_an_event_read_from_the_log_is_audited_as_its_delivery_was(
    log_pool, publisher, topology: Topology
):
    async with log_pool.acquire() as conn:
        await migrate(conn, "audit", SQL)
    store = EventStore(log_pool)
    recorded = memory_event(tenant="acme", content="my secret words")
    said = ExtractedFact(
        fact_id="f1", attribute="location", value="Paris", statement="lives in Paris",
        kind="dynamic", confidence=0.9, span=(0, 14),
    )  # fmt: skip
    fact = new_event(
        FactExtracted(memory_id="m1", user_id="u1", fact=said, extractor="rules", about="Ann"),
        tenant="acme",
    )
    await store.append("s-1", [recorded, fact])

    # As the audit recorded them when the bus delivered them.
    await Relay(log_pool, publisher).pump()
    msgs = await stream_messages(
        publisher.js, topology.evt_stream, topology.tenant_evt("acme"), expect=2
    )
    delivered = sorted((entry_row("event", _delivery(m)) for m in msgs), key=lambda r: r[1])

    events = follower(log_pool, topology)
    assert await events.pump() == 2
    rows = [tuple(r.values()) for r in await log_pool.fetch(_ROWS)]
    assert [decoded(r) for r in rows] == [decoded(r) for r in delivered]
    assert "secret" not in str(rows) and "Paris" not in str(rows)

    # The follower goes on from its place; one starting over adds no entry twice.
    assert await events.pump() == 0
    later = memory_event(tenant="acme", content="later")
    await store.append("s-2", [later])
    assert await events.pump() == 1
    await log_pool.execute("DELETE FROM mnemo.checkpoints WHERE name = $1", FOLLOWER)
    assert await follower(log_pool, topology).pump() == 3
    ids = [r["message_id"] for r in await log_pool.fetch(_ROWS)]
    assert sorted(ids) == sorted([recorded.event_id, fact.event_id, later.event_id])


async def test_an_event_shredded_before_the_follower_read_it_is_audited_from_what_stays_clear(
    log_pool, publisher, topology: Topology
):
    """A memory deleted (its key shredded) before the audit's follower reached its
    recording: the request's chain still shows the step, as the bus delivered it, with
    what the log keeps in clear (ids) and never the words."""
    async with log_pool.acquire() as conn:
        await migrate(conn, "audit", SQL)
    store = EventStore(log_pool)
    recorded = memory_event(tenant="acme", content="my shredded words")
    await store.append("s-1", [recorded])
    await Relay(log_pool, publisher).pump()  # the bus had it before the deletion
    msgs = await stream_messages(
        publisher.js, topology.evt_stream, topology.tenant_evt("acme"), expect=1
    )
    delivered = decoded(entry_row("event", _delivery(msgs[0])))
    memory_id = recorded.data.memory_id  # type: ignore[attr-defined]
    async with log_pool.acquire() as conn:
        assert await KeyRing().shred_memories(conn, [("acme", memory_id)])

    assert await follower(log_pool, topology).pump() == 1
    rows = [decoded(tuple(r.values())) for r in await log_pool.fetch(_ROWS)]
    assert len(rows) == 1
    row = rows[0]
    assert row[:-1] == delivered[:-1]
    assert {k: v for k, v in row[-1].items() if k != "data"} == {
        k: v for k, v in delivered[-1].items() if k != "data"
    }
    assert row[-1]["data"] == {k: v for k, v in delivered[-1]["data"].items() if k in CLEAR_FIELDS}
    assert row[-1]["data"]["memory_id"] == memory_id
    assert "shredded words" not in str(rows)
