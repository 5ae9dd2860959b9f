"""The second phase of synthesis on the real PostgreSQL log: a language model reads a
memory the rules already synthesized, and what it finds corroborates, adds to or
supersedes their facts, once; a model that cannot be used leaves the rules' facts; a
subject forgotten while the model reads stores nothing of it.

The model here is a scripted reader in process (`Scripted`): a language model cannot run
in this suite (the stand-in server of tests/e2e/test_llm_extractor.py drives the same path
over HTTP, and `make test-llm` the real local model)."""

import uuid
from datetime import UTC, datetime

import pytest

from mnemo.contracts import (
    ChangeFact,
    Envelope,
    FactCorroborated,
    FactExtracted,
    FactSuperseded,
    MemoryRecorded,
    MemoryRefined,
    MemorySynthesized,
    NewEvent,
    ProfileQuery,
    QueryError,
)
from mnemo.eventlog import EventStore, migrate
from mnemo.synthesis.curation import FactCuration
from mnemo.synthesis.extractor import Extraction, Finding
from mnemo.synthesis.fact_views import FactViews
from mnemo.synthesis.handlers import ReadModelHandlers, SynthesisHandlers, built_in, facts_stream
from mnemo.synthesis.llm import Said
from mnemo.synthesis.passes import SQL, PassTracker
from mnemo.synthesis.profiles import FactTable
from mnemo.synthesis.timelines import Timelines

from .helpers import as_delivery

TENANT = "t_refining"
MODEL = "llm:scripted"


class Scripted:
    """Answers each memory with the findings scripted for its content."""

    name = MODEL

    def __init__(self) -> None:
        self.answers: dict[str, Extraction] = {}
        self.asked: list[str] = []
        self.speakers: list[str | None] = []
        self.calls: list[list[str]] = []  # the memories of each call
        self.while_asked = None  # an async callable run during a call (a forget)

    async def extract_many(self, tenant_id: str, items: list[Said]) -> list[Extraction]:
        self.calls.append([s.content for s in items])
        out = []
        for said in items:
            self.asked.append(said.content)
            self.speakers.append(said.speaker)
            if self.while_asked is not None:
                await self.while_asked()
            out.append(self.answers[said.content])
        return out


@pytest.fixture
async def setup(log_pool):
    async with log_pool.acquire() as conn:
        await migrate(conn, "synthesis", SQL)
    store = EventStore(log_pool)
    model = Scripted()
    handlers = SynthesisHandlers(
        store, PassTracker(log_pool), Timelines(log_pool, store), built_in, model
    )
    return handlers, store, model


async def record(
    store: EventStore,
    user_id: str,
    content: str,
    metadata: dict | None = None,
    agent_id: str | None = None,
) -> Envelope:
    """The memory as ingest stores it (sealed with the subject's key)."""
    memory_id = str(uuid.uuid4())
    [stored] = await store.append(
        f"memory-{TENANT}-{memory_id}",
        [
            NewEvent(
                event_id=str(uuid.uuid4()),
                tenant_id=TENANT,
                occurred_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
                correlation_id="corr-" + memory_id,
                causation_id="cmd-" + memory_id,
                actor="tests",
                service="ingest",
                data=MemoryRecorded(
                    memory_id=memory_id,
                    user_id=user_id,
                    content=content,
                    metadata=metadata or {},
                    agent_id=agent_id,
                ),
            )
        ],
    )
    return stored


async def synthesize(
    handlers,
    store,
    user_id: str,
    content: str,
    metadata: dict | None = None,
    agent_id: str | None = None,
) -> Envelope:
    """The first phase (the rules); returns the memory's `memory.synthesized`."""
    recorded = await record(store, user_id, content, metadata, agent_id)
    await handlers.memories_recorded([as_delivery(recorded)])
    [done] = [
        e
        for e in await store.read_stream(facts_stream(TENANT, user_id))
        if isinstance(e.data, MemorySynthesized) and e.data.memory_id == recorded.data.memory_id
    ]
    return done


def found(content: str, attribute: str, value: str, statement: str) -> Extraction:
    start = content.index(value)
    return Extraction(
        facts=[Finding(attribute, value, statement, 0.9, (start, start + len(value)))],
        extractor=MODEL,
    )


async def test_the_model_corroborates_then_supersedes_the_rules_facts(setup):
    handlers, store, model = setup
    user = "u_refined"
    first = "I live in Lisbon."
    done = await synthesize(handlers, store, user, first)
    rules = [e.data for e in await store.read_stream(facts_stream(TENANT, user))]
    [lisbon] = [d for d in rules if isinstance(d, FactExtracted)]
    assert lisbon.extractor == "rules-v2" and lisbon.fact.value == "Lisbon"

    model.answers[first] = found(first, "location", "Lisbon", "Lives in Lisbon")
    await handlers.memory_synthesized(as_delivery(done))
    after = await store.read_stream(facts_stream(TENANT, user))
    new = after[len(rules) :]
    assert [type(e.data) for e in new] == [FactCorroborated, MemoryRefined]
    assert new[0].data.fact_id == lisbon.fact.fact_id and new[0].data.extractor == MODEL
    assert new[1].data.extractor == MODEL and new[1].data.fallback_reason is None
    assert new[1].data.corroborated_fact_ids == [lisbon.fact.fact_id]
    assert all(e.causation_id == done.event_id for e in new)
    assert all(e.correlation_id == done.correlation_id for e in new)

    # Delivered again (a replica died before its ack): the model is not asked twice.
    await handlers.memory_synthesized(as_delivery(done))
    assert len(await store.read_stream(facts_stream(TENANT, user))) == len(after)
    assert model.asked == [first]

    # The model reads a value the rules read otherwise: its fact supersedes theirs.
    second = "These days home is Porto, by the river."
    done = await synthesize(handlers, store, user, second)
    before = len(await store.read_stream(facts_stream(TENANT, user)))
    model.answers[second] = found(second, "location", "Porto", "Lives in Porto")
    await handlers.memory_synthesized(as_delivery(done))
    new = [e.data for e in (await store.read_stream(facts_stream(TENANT, user)))[before:]]
    [porto] = [d for d in new if isinstance(d, FactExtracted)]
    assert porto.extractor == MODEL and porto.fact.value == "Porto"
    [ended] = [d for d in new if isinstance(d, FactSuperseded)]
    assert ended.fact_id == lisbon.fact.fact_id and ended.superseded_by == porto.fact.fact_id
    assert new[-1].superseded_fact_ids == [lisbon.fact.fact_id]


async def test_a_model_that_cannot_be_used_leaves_the_rules_facts(setup):
    handlers, store, model = setup
    user = "u_fallback"
    content = "I work at Initech."
    done = await synthesize(handlers, store, user, content)
    before = await store.read_stream(facts_stream(TENANT, user))
    model.answers[content] = Extraction(extractor="rules-v2", fallback_reason="unavailable: x")
    await handlers.memory_synthesized(as_delivery(done))
    new = (await store.read_stream(facts_stream(TENANT, user)))[len(before) :]
    [refined] = [e.data for e in new]
    assert isinstance(refined, MemoryRefined)
    assert refined.extractor == MODEL and refined.fallback_reason == "unavailable: x"
    assert refined.fact_ids == [] and refined.corroborated_fact_ids == []


async def test_a_subject_forgotten_while_the_model_reads_keeps_nothing(setup, log_pool):
    handlers, store, model = setup
    user = "u_forgotten"
    content = "I work at Initech."
    done = await synthesize(handlers, store, user, content)
    model.answers[content] = found(content, "employer", "Initech", "Works at Initech")
    model.answers[content].facts.append(
        Finding("preference", "sailing", "Likes sailing", 0.8, (0, len(content)))
    )
    stream = facts_stream(TENANT, user)
    stored = "SELECT count(*) FROM mnemo.events WHERE stream_id = $1"
    before = await log_pool.fetchval(stored, stream)

    async def forget() -> None:
        await store.forget_subject(TENANT, user)

    model.while_asked = forget
    await handlers.memory_synthesized(as_delivery(done))
    # Nothing appended under a new key, and no new key made for the forgotten subject:
    # the rules' sealed events stay stored but unreadable (their key is gone).
    assert await log_pool.fetchval(stored, stream) == before
    assert [e.event_type for e in await store.read_stream(stream)] == ["memory.synthesized"]
    keys = await log_pool.fetchval(
        "SELECT count(*) FROM mnemo.subject_keys WHERE tenant_id = $1 AND user_id = $2",
        TENANT,
        user,
    )
    assert keys == 0


async def test_a_memory_forgotten_before_the_model_reads_it_is_skipped(setup):
    handlers, store, model = setup
    user = "u_gone"
    done = await synthesize(handlers, store, user, "I live in Lund.")
    await store.forget_subject(TENANT, user)
    await handlers.memory_synthesized(as_delivery(done))
    assert model.asked == []


async def test_one_subjects_memories_are_read_in_one_call_each_fact_its_own_speakers(setup):
    """A fetched batch of the second phase: each subject's memories go to the model
    together, each with its speaker; what it found in each is that memory's (its speaker's
    facts, its memory.refined), appended once; the assistant's line is read by no model,
    and the batch delivered again asks nothing."""
    handlers, store, model = setup
    talk, other = "u_batch_" + uuid.uuid4().hex[:6], "u_batch_" + uuid.uuid4().hex[:6]
    lines = [
        ("I adopted a greyhound called Pixel.", {"author": "Ana"}),
        ("I took up rowing last spring.", {"author": "Ben"}),
        ("I work at OpenAI.", {"role": "assistant"}),
        ("Porto has been treating me well lately.", {"author": "Ana"}),
    ]
    done = [await synthesize(handlers, store, talk, text, meta) for text, meta in lines]
    elsewhere = await synthesize(handlers, store, other, "I live in Oslo.")
    model.answers = {
        lines[0][0]: found(lines[0][0], "possession", "a greyhound", "Has a greyhound"),
        lines[1][0]: found(lines[1][0], "activity", "rowing", "Rows"),
        lines[3][0]: found(lines[3][0], "location", "Porto", "Lives in Porto"),
        "I live in Oslo.": found("I live in Oslo.", "location", "Oslo", "Lives in Oslo"),
    }
    before = len(await store.read_stream(facts_stream(TENANT, talk)))
    deliveries = [as_delivery(d) for d in [done[0], elsewhere, *done[1:]]]
    await handlers.memories_synthesized(deliveries)

    assert model.calls == [[lines[0][0], lines[1][0], lines[3][0]], ["I live in Oslo."]]
    assert model.speakers == ["Ana", "Ben", "Ana", None]
    new = (await store.read_stream(facts_stream(TENANT, talk)))[before:]
    refined = {e.data.memory_id: e for e in new if isinstance(e.data, MemoryRefined)}
    assert len(refined) == 4  # the assistant's line too, with nothing found
    facts = {e.data.fact.statement: e for e in new if isinstance(e.data, FactExtracted)}
    assert {s: e.data.about for s, e in facts.items()} == {
        "Has a greyhound": "Ana",
        "Rows": "Ben",
        "Lives in Porto": "Ana",
    }
    for statement, synthesized in (
        ("Has a greyhound", done[0]),
        ("Rows", done[1]),
        ("Lives in Porto", done[3]),
    ):
        memory_id = synthesized.data.memory_id
        assert facts[statement].causation_id == synthesized.event_id
        assert refined[memory_id].data.fact_ids == [facts[statement].data.fact.fact_id]
    assert refined[done[2].data.memory_id].data.fact_ids == []

    await handlers.memories_synthesized(deliveries)  # redelivered: nothing asked again
    assert len(model.calls) == 2
    assert len(await store.read_stream(facts_stream(TENANT, talk))) == before + len(new)


async def test_a_memory_recorded_before_a_forget_and_delivered_after_derives_nothing(setup):
    """The rules' phase behind a backlog: the memory was recorded (sealed under the key the
    forget shredded) before the forget, its event arrives after. Nothing of it may be
    sealed under the key the subject's next memory makes."""
    handlers, store, _ = setup
    user = "u_backlog_" + uuid.uuid4().hex[:6]
    before = await record(store, user, "I work at Initech.")
    await store.forget_subject(TENANT, user)
    after = await record(store, user, "I live in Lund.")  # heard from again: a new key
    await handlers.memories_recorded([as_delivery(before), as_delivery(after)])
    derived = await store.read_stream(facts_stream(TENANT, user))
    assert {e.data.memory_id for e in derived} == {after.data.memory_id}
    assert "Initech" not in str([e.data for e in derived])


async def test_facts_derived_before_a_forget_and_delivered_after_are_not_recorded(setup, log_pool):
    """The read models behind a backlog: the gateway had them drop the subject at the
    forget's answer; the facts and entities derived before it, arriving after, must not
    bring it back (until `memory.forgotten` would drop it again)."""
    handlers, store, _ = setup
    user = "u_late_facts_" + uuid.uuid4().hex[:6]
    await synthesize(handlers, store, user, "I work at Initech.")
    derived = await store.read_stream(facts_stream(TENANT, user))
    assert {"fact.extracted", "entity.extracted"} <= {e.event_type for e in derived}
    await store.forget_subject(TENANT, user)
    await ReadModelHandlers(log_pool).apply(derived)
    for table in ("synthesis.facts", "synthesis.entity_mentions"):
        count = f"SELECT count(*) FROM {table} WHERE user_id = $1"
        assert await log_pool.fetchval(count, user) == 0, table


async def test_a_fact_changed_through_the_api_while_its_subject_is_forgotten_is_refused(
    setup, log_pool
):
    """The forget commits between the change's read of the subject's facts and its append:
    the new statement must not be sealed under a key of its own, readable ever after."""
    handlers, store, _ = setup
    user = "u_curated_" + uuid.uuid4().hex[:6]
    await synthesize(handlers, store, user, "I work at Initech.")
    derived = await store.read_stream(facts_stream(TENANT, user))
    await ReadModelHandlers(log_pool).apply(derived)
    [fact] = [e.data.fact for e in derived if isinstance(e.data, FactExtracted)]

    class ForgottenAfterRead(Timelines):
        async def load(self, stream, subject, tenant_id, user_id):
            found = await super().load(stream, subject, tenant_id, user_id)
            await store.forget_subject(tenant_id, user_id)
            return found

    curation = FactCuration(
        store, ForgottenAfterRead(log_pool, store), FactViews(log_pool), ReadModelHandlers(log_pool)
    )
    answer = await curation.change(
        ChangeFact(
            tenant_id=TENANT, fact_id=fact.fact_id, change="supersede", actor="t",
            content="I work at Hooli.",
        )
    )  # fmt: skip
    assert isinstance(answer, QueryError) and answer.code == "not_found"
    readable = await store.read_stream(facts_stream(TENANT, user))
    assert [e.event_type for e in readable] == ["memory.synthesized"]  # ids only, no words
    keys = "SELECT count(*) FROM mnemo.subject_keys WHERE tenant_id = $1 AND user_id = $2"
    assert await log_pool.fetchval(keys, TENANT, user) == 0


async def test_two_agents_memories_of_one_user_are_never_read_in_one_call(setup):
    """Agents that share a user's name share nothing else: the model reads each agent's
    memories of the user in calls of their own, so it cannot carry what one agent heard
    into what it finds for the other."""
    handlers, store, model = setup
    user = "u_agents_" + uuid.uuid4().hex[:6]
    lines = [
        ("I adopted a greyhound called Pixel.", "agent-a"),
        ("I took up rowing last spring.", "agent-b"),
        ("Porto has been treating me well lately.", "agent-a"),
    ]
    done = [await synthesize(handlers, store, user, t, None, agent) for t, agent in lines]
    model.answers = {
        lines[0][0]: found(lines[0][0], "possession", "a greyhound", "Has a greyhound"),
        lines[1][0]: found(lines[1][0], "activity", "rowing", "Rows"),
        lines[2][0]: found(lines[2][0], "location", "Porto", "Lives in Porto"),
    }
    await handlers.memories_synthesized([as_delivery(d) for d in done])
    assert sorted(model.calls) == sorted([[lines[0][0], lines[2][0]], [lines[1][0]]])
    facts = {
        e.data.fact.statement: e.data.agent_id
        for e in await store.read_stream(facts_stream(TENANT, user))
        if isinstance(e.data, FactExtracted) and e.data.extractor == MODEL
    }
    assert facts == {"Has a greyhound": "agent-a", "Rows": "agent-b", "Lives in Porto": "agent-a"}


async def test_an_agent_never_reaches_another_agents_fact_its_memory_once_corroborated(
    setup, log_pool
):
    """A log written before synthesis kept each agent's memories to its own facts holds
    evidence of agent B's memory on agent A's fact: B must still not list, profile or
    reach that fact (its statement names what A's user told A)."""
    handlers, store, _ = setup
    user = "u_shared_name_" + uuid.uuid4().hex[:6]
    await synthesize(handlers, store, user, "I work at Initech.", agent_id="agent-a")
    derived = await store.read_stream(facts_stream(TENANT, user))
    await ReadModelHandlers(log_pool).apply(derived)
    [fact] = [e.data.fact for e in derived if isinstance(e.data, FactExtracted)]
    now = datetime.now(UTC)
    await log_pool.execute(
        """INSERT INTO synthesis.fact_evidence (tenant_id, event_id, user_id, fact_id,
               memory_id, span_start, span_end, confidence, occurred_at, recorded_at, agent_id)
           VALUES ($1, $2, $3, $4, $5, 0, 10, 0.9, $6, $6, 'agent-b')""",
        TENANT, str(uuid.uuid4()), user, fact.fact_id, str(uuid.uuid4()), now,
    )  # fmt: skip
    views = FactViews(log_pool)
    assert [v.fact_id for v, _ in await views.views(TENANT, user, None, "agent-a")] == [
        fact.fact_id
    ]
    assert await views.views(TENANT, user, None, "agent-b") == []
    assert await views.owner(TENANT, fact.fact_id, "agent-b") is None
    assert await views.owner(TENANT, fact.fact_id, "agent-a") == user
    table = FactTable(log_pool)
    mine = await table.profile(ProfileQuery(tenant_id=TENANT, user_id=user, agent_id="agent-a"))
    assert mine.static + mine.dynamic == [fact.statement]
    theirs = await table.profile(ProfileQuery(tenant_id=TENANT, user_id=user, agent_id="agent-b"))
    assert theirs.static + theirs.dynamic == []
