"""What synthesis does for each recorded memory, and how its read models follow the log."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from mnemo.bus import Delivery, envelope_context
from mnemo.contracts import (
    AgentWithdrawn,
    Dropped,
    EntitiesQuery,
    EntityExtracted,
    EntityGraph,
    Envelope,
    EventData,
    FactCorroborated,
    FactExtracted,
    FactSuperseded,
    ForgetSubject,
    MemoryDeleted,
    MemoryForgotten,
    MemoryRecorded,
    MemoryRefined,
    MemorySynthesized,
    MemoryWithdrawn,
    NewEvent,
    Profile,
    ProfileQuery,
    QueryError,
    SubjectSynthesized,
    derived_id,
    utcnow,
)
from mnemo.contracts.speakers import speaker_of
from mnemo.eventlog import (
    NO_STREAM,
    CoalescedCompaction,
    EventStore,
    SubjectKeyChanged,
    WrongExpectedVersion,
    compact,
    schema_tables,
    silenced_by,
    worth_compacting,
)
from mnemo.synthesis import extractor
from mnemo.synthesis.entities import EntityTable
from mnemo.synthesis.llm import Said, reason_kind
from mnemo.synthesis.passes import PassTracker
from mnemo.synthesis.profiles import FactTable
from mnemo.synthesis.timeline import Timeline, counted
from mnemo.synthesis.timelines import Timelines
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "synthesis"
# Appends to one subject's stream race only between replicas; each retry re-reads it.
_APPEND_ATTEMPTS = 5


def subject_key(tenant_id: str, user_id: str) -> str:
    return derived_id("subject", tenant_id, user_id)


_FACTS = "synthesis-facts-"


def facts_stream(tenant_id: str, user_id: str) -> str:
    """One stream per subject: what synthesis derived, in the order it decided it."""
    return f"{_FACTS}{tenant_id}-{subject_key(tenant_id, user_id)}"


async def _hold_streams(conn: asyncpg.Connection, streams: list[str]) -> None:
    """Hold the subjects' read-model locks (in order) until the transaction ends."""
    for stream in streams:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "synthesis.read\x1f" + stream
        )


def pass_stream(tenant_id: str, user_id: str) -> str:
    return f"synthesis-pass-{tenant_id}-{subject_key(tenant_id, user_id)}"


def caused_by(cause: Envelope, event_id: str, data: EventData) -> NewEvent:
    """An event synthesis appends because of `cause`: its valid time, its correlation."""
    return NewEvent(
        event_id=event_id,
        tenant_id=cause.tenant_id,
        occurred_at=cause.occurred_at,
        correlation_id=cause.correlation_id,
        causation_id=cause.event_id,
        actor=SERVICE,
        service=SERVICE,
        data=data,
    )


# (tenant id, memory content) -> what is in it: the built-in rules, or an LLM with them
# as its fallback.
Extract = Callable[[str, str], Awaitable[extractor.Extraction]]


# Longer memories are read on a worker thread: the rules' work grows with the length (up
# to a second for the longest memory accepted), and on the event loop it held up the acks
# and the queries (facts, profiles) of every other tenant meanwhile.
INLINE_CHARS = 2000


async def built_in(_tenant_id: str, content: str) -> extractor.Extraction:
    if len(content) <= INLINE_CHARS:
        return extractor.extract(content)
    return await asyncio.to_thread(extractor.extract, content)


def not_read() -> extractor.Extraction:
    """What the assistant's side of a conversation yields: no extractor, and no model,
    reads it (a new one each time: an Extraction is filled in place)."""
    return extractor.Extraction(extractor="none:assistant")


class Refiner(Protocol):
    """The second phase's reader (the LLM extractor): its name, and what it finds in each
    of one subject's memories (in order; several a call where it can)."""

    name: str

    async def extract_many(
        self, tenant_id: str, items: Sequence[Said]
    ) -> list[extractor.Extraction]: ...


class SynthesisHandlers:
    def __init__(
        self,
        store: EventStore,
        passes: PassTracker,
        timelines: Timelines,
        extract: Extract = built_in,
        refiner: Refiner | None = None,
    ) -> None:
        self._store = store
        self._passes = passes
        self._timelines = timelines
        self._extract = extract
        self._refiner = refiner

    async def memory_recorded(self, delivery: Delivery) -> None:
        await self.memories_recorded([delivery])

    async def memories_recorded(self, deliveries: list[Delivery]) -> None:
        """Decide what each memory changes in its subject's facts and entities, and append
        that, plus `memory.synthesized`, to the subject's stream, caused by the memory: per
        subject, one read of its state and one append for all of its memories here.

        The subject's stream is read and written with an expected version, so two
        replicas never decide on a stale timeline; a memory already in it is skipped
        (before it is read, so an LLM is not asked twice about it).
        """
        by_subject: dict[tuple[str, str], list[Envelope]] = {}
        deleted: dict[tuple[str, str], list[Envelope]] = {}
        gone: set[str] = set()
        for delivery in deliveries:
            envelope: Envelope = delivery.decode(Envelope)
            if isinstance(envelope.data, MemoryRecorded):
                if envelope.data.memory_id in gone:
                    # Recorded again after its deletion here (the same sourceId sent once
                    # more): what came before goes first, so the deletion is withdrawn
                    # before the new recording is read.
                    await self._apply(by_subject, deleted)
                    by_subject, deleted, gone = {}, {}, set()
                key = (envelope.tenant_id, envelope.data.user_id)
                by_subject.setdefault(key, []).append(envelope)
            elif isinstance(envelope.data, MemoryDeleted):
                key = (envelope.tenant_id, envelope.data.user_id)
                deleted.setdefault(key, []).append(envelope)
                gone.add(envelope.data.memory_id)
        await self._apply(by_subject, deleted)

    async def _apply(
        self,
        by_subject: dict[tuple[str, str], list[Envelope]],
        deleted: dict[tuple[str, str], list[Envelope]],
    ) -> None:
        for (tenant_id, user_id), envelopes in by_subject.items():
            await self._synthesize(tenant_id, user_id, envelopes)
            # Even when a memory was done before (a redelivery), its pass may not have been.
            await self._passes_if_due(tenant_id, envelopes)
        # After the memories of the batch: a memory deleted is deleted after it was recorded.
        for (tenant_id, user_id), envelopes in deleted.items():
            await self._withdraw(tenant_id, user_id, envelopes)

    async def _withdraw(self, tenant_id: str, user_id: str, envelopes: list[Envelope]) -> None:
        """What the deleted memories said stops counting: a `memory.withdrawn` for each in
        the subject's stream (see `timeline.counted`), caused by its `memory.deleted`."""
        stream = facts_stream(tenant_id, user_id)
        subject = subject_key(tenant_id, user_id)
        # Agents deleted since (mnemo.retired_agents): a deletion of their memory recorded
        # before is the deleted agent's; its withdrawal, appended late (a backlog), must not
        # name the id an agent made again with it now holds.
        agents = {
            (tenant_id, e.data.agent_id)
            for e in envelopes
            if isinstance(e.data, MemoryDeleted) and e.data.agent_id
        }
        retired = await self._store.retired_at(agents)
        for _ in range(_APPEND_ATTEMPTS):
            timeline, version, key_id = await self._timelines.load(
                stream, subject, tenant_id, user_id
            )
            if version < 0:
                return  # nothing synthesized for the subject (or forgotten since)
            events = []
            for envelope in envelopes:
                gone = envelope.data
                assert isinstance(gone, MemoryDeleted)
                before = timeline.withdrawn.get(gone.memory_id, -1)
                if before is None or before >= envelope.stream_version:
                    continue  # withdrawn already for this deletion
                if timeline.of_deleted_agent(gone.agent_id, envelope.recorded_at):
                    continue  # withdrawn with its agent (and never read after it)
                # A memory never read (deleted before synthesis got to it), or a deleted
                # agent's, is withdrawn all the same (a replica reading it meanwhile counts
                # nothing of it) but names no agent: no agent's event stream shows it.
                read = gone.memory_id in timeline.memories
                ended = retired.get((tenant_id, gone.agent_id or ""))
                named = read and (ended is None or await self._recorded_after(envelope, ended))
                withdrawn = MemoryWithdrawn(
                    memory_id=gone.memory_id,
                    user_id=user_id,
                    agent_id=gone.agent_id if named else None,
                    deleted_version=envelope.stream_version,
                )
                events.append(
                    caused_by(
                        envelope, derived_id(envelope.event_id, "memory.withdrawn"), withdrawn
                    )
                )
            if not events:
                self._timelines.keep(stream, timeline, version, key_id)
                return
            try:
                await self._store.append(
                    stream, events, expected_version=version, sealed_with=key_id
                )
            except WrongExpectedVersion:
                continue
            except SubjectKeyChanged:
                return  # forgotten meanwhile: nothing of the subject is left to withdraw
            # Not kept: the timeline is folded again, without what the memories said.
            log.info("memories_withdrawn", count=len(events))
            return
        raise RuntimeError(f"{stream} kept moving; withdrawing the memories will be retried")

    async def _recorded_after(self, deleted: Envelope, retired: datetime) -> bool:
        """Whether the memory a `memory.deleted` ends was recorded after its agent's last
        deletion (an agent made again with the id: its own memory), not before it (the
        deleted agent's, whenever its deletion was recorded: the agent's sweep comes after
        the agent is gone)."""
        recorded = await self._store.recorded_before(deleted.stream_id, deleted.stream_version)
        return recorded is not None and recorded > retired

    async def _synthesize(self, tenant_id: str, user_id: str, envelopes: list[Envelope]) -> None:
        found: dict[str, extractor.Extraction] = {}
        stream = facts_stream(tenant_id, user_id)
        subject = subject_key(tenant_id, user_id)
        for _ in range(_APPEND_ATTEMPTS):
            timeline, version, key_id = await self._timelines.load(
                stream, subject, tenant_id, user_id
            )
            # A memory recorded before its subject was forgotten, delivered after: what it
            # says must not come back as facts sealed under the subject's next key. (One not
            # dropped here was sealed under `key_id`, which the append then holds.)
            gone = await self._store.unreadable([e.event_id for e in envelopes])
            if gone:
                log.info("memories_forgotten_before_synthesis", count=len(gone))
                envelopes = [e for e in envelopes if e.event_id not in gone]
            # Deleted before synthesis got to it (a backlog): nothing is drawn from it, so
            # no fact of it appears after its deletion (an agent made again with a deleted
            # one's id saw the deleted one's facts come and go on its event stream).
            deleted = await self._store.deleted_since([e.event_id for e in envelopes])
            if deleted:
                log.info("memories_deleted_before_synthesis", count=len(deleted))
                envelopes = [e for e in envelopes if e.event_id not in deleted]
            events: list[NewEvent] = []
            done: list[tuple[Envelope, int]] = []
            for envelope in envelopes:
                memory = envelope.data
                assert isinstance(memory, MemoryRecorded)
                if timeline.read_before(memory.memory_id, envelope.stream_version):
                    with envelope_context(envelope):
                        log.info("memory_already_synthesized", memory_id=memory.memory_id)
                    continue
                if timeline.of_deleted_agent(memory.agent_id, envelope.recorded_at):
                    with envelope_context(envelope):
                        log.info("memory_of_a_deleted_agent", memory_id=memory.memory_id)
                    continue
                if memory.memory_id not in found:
                    with envelope_context(envelope):
                        found[memory.memory_id] = await self._read(tenant_id, memory, self._extract)
                decided = self._events(envelope, memory, timeline, found[memory.memory_id])
                events.extend(decided)
                done.append((envelope, len(decided)))
            if not events:
                self._timelines.keep(stream, timeline, version, key_id)
                return
            expected = version if version >= 0 else NO_STREAM
            try:
                await self._store.append(
                    stream, events, expected_version=expected, sealed_with=key_id
                )
            except WrongExpectedVersion:
                continue  # another replica moved the stream: decide again on what it has
            except SubjectKeyChanged:
                # Forgotten since its timeline was read: its memories with it.
                log.info("subject_forgotten_while_synthesizing", memories=len(done))
                return
            self._timelines.keep(stream, timeline, version + len(events), key_id)
            now = utcnow()
            for envelope, count in done:
                memory = envelope.data
                assert isinstance(memory, MemoryRecorded)
                extraction = found[memory.memory_id]
                with envelope_context(envelope):
                    log.info(
                        "memory_synthesized",
                        memory_id=memory.memory_id,
                        events=count,
                        extractor=extraction.extractor,
                        fallback_reason=reason_kind(extraction.fallback_reason),
                        lag_ms=int((now - envelope.recorded_at).total_seconds() * 1000),
                    )
            return
        raise RuntimeError(f"{stream} kept moving; synthesis of the memory will be retried")

    async def memory_synthesized(self, delivery: Delivery) -> None:
        await self.memories_synthesized([delivery])

    async def memories_synthesized(self, deliveries: list[Delivery]) -> None:
        """The second phase: a language model reads memories the rules have synthesized,
        several of one subject in one call (MNEMO_LLM_BATCH), and what it finds in each is
        decided on the subject's timeline like any memory's findings (the same fact said is
        corroborated, a conflicting one supersedes the rules' fact), then `memory.refined`;
        all caused by the memory's `memory.synthesized`. Runs on a consumer of its own, so
        the model's pace never holds back the first phase."""
        if self._refiner is None:
            return
        by_subject: dict[tuple[str, str], list[tuple[Envelope, Envelope]]] = {}
        for delivery in deliveries:
            synthesized: Envelope = delivery.decode(Envelope)
            done = synthesized.data
            if not isinstance(done, MemorySynthesized):
                continue
            recorded = await self._store.get(synthesized.causation_id)
            if recorded is None or not isinstance(recorded.data, MemoryRecorded):
                # Forgotten (its key shredded, its events erased) since: nothing to read.
                with envelope_context(synthesized):
                    log.info("memory_gone_before_refining", memory_id=done.memory_id)
                continue
            key = (synthesized.tenant_id, recorded.data.user_id)
            by_subject.setdefault(key, []).append((synthesized, recorded))
        for (tenant_id, user_id), memories in by_subject.items():
            await self._refine(tenant_id, user_id, memories)

    async def _refine(
        self, tenant_id: str, user_id: str, memories: list[tuple[Envelope, Envelope]]
    ) -> None:
        """One subject's memories read by the model (those not read yet), and what it found
        appended to the subject's stream at once, on the version it was decided on."""
        assert self._refiner is not None
        stream = facts_stream(tenant_id, user_id)
        subject = subject_key(tenant_id, user_id)
        found: dict[str, extractor.Extraction] = {}
        for _ in range(_APPEND_ATTEMPTS):
            timeline, version, key_id = await self._timelines.load(
                stream, subject, tenant_id, user_id
            )
            gone = await self._store.unreadable([r.event_id for _, r in memories])
            todo = [
                (synthesized, recorded.data, recorded.recorded_at)
                for synthesized, recorded in memories
                if isinstance(recorded.data, MemoryRecorded)
                and recorded.data.memory_id not in timeline.refined
                and recorded.data.memory_id not in timeline.withdrawn
                and not timeline.of_deleted_agent(recorded.data.agent_id, recorded.recorded_at)
                and recorded.event_id not in gone
            ]
            if not todo:
                self._timelines.keep(stream, timeline, version, key_id)
                return
            unread = [memory for _, memory, _ in todo if memory.memory_id not in found]
            if unread:
                found.update(await self._read_many(tenant_id, unread))
            events: list[NewEvent] = []
            counts: list[int] = []
            for synthesized, memory, _ in todo:
                refined = self._refined(
                    synthesized, memory, timeline, found[memory.memory_id], self._refiner.name
                )
                events.extend(refined)
                counts.append(len(refined))
            expected = version if version >= 0 else NO_STREAM
            try:
                await self._store.append(
                    stream, events, expected_version=expected, sealed_with=key_id
                )
            except WrongExpectedVersion:
                continue
            except SubjectKeyChanged:
                # Forgotten while the model read: what it found goes with the subject.
                log.info("subject_forgotten_while_refining", memories=len(todo))
                return
            self._timelines.keep(stream, timeline, version + len(events), key_id)
            now = utcnow()
            for (synthesized, memory, recorded_at), count in zip(todo, counts, strict=True):
                with envelope_context(synthesized):
                    log.info(
                        "memory_refined",
                        memory_id=memory.memory_id,
                        events=count,
                        extractor=self._refiner.name,
                        fallback_reason=reason_kind(found[memory.memory_id].fallback_reason),
                        lag_ms=int((now - recorded_at).total_seconds() * 1000),
                        batch=len(todo),
                    )
            return
        raise RuntimeError(f"{stream} kept moving; refining the memories will be retried")

    async def _read_many(
        self, tenant_id: str, memories: list[MemoryRecorded]
    ) -> dict[str, extractor.Extraction]:
        """What the model finds in each memory about its speaker; the assistant's side is
        read by no model (mnemo.contracts.speakers)."""
        assert self._refiner is not None
        out: dict[str, extractor.Extraction] = {}
        # One call per agent: a model that reads several memories at once may carry what
        # one says into what it finds in another, and agents that share a user's name
        # share nothing else (mnemo.synthesis.timeline keeps their facts apart too).
        by_agent: dict[str | None, list[tuple[str, Said]]] = {}
        for memory in memories:
            speaker = speaker_of(memory.metadata, memory.user_id)
            if speaker.describes_self:
                said = Said(memory.content, speaker.about)
                by_agent.setdefault(memory.agent_id, []).append((memory.memory_id, said))
            else:
                out[memory.memory_id] = not_read()
        for asked in by_agent.values():
            read = await self._refiner.extract_many(tenant_id, [said for _, said in asked])
            out.update(zip((memory_id for memory_id, _ in asked), read, strict=True))
        return out

    @staticmethod
    async def _read(
        tenant_id: str, memory: MemoryRecorded, extract: Callable[..., Awaitable[Any]]
    ) -> extractor.Extraction:
        """What the memory says about its speaker; nothing when the assistant's side said
        it (mnemo.contracts.speakers): no extractor, and no model, reads it."""
        if not speaker_of(memory.metadata, memory.user_id).describes_self:
            return not_read()
        found: extractor.Extraction = await extract(tenant_id, memory.content)
        return found

    def _refined(
        self,
        synthesized: Envelope,
        memory: MemoryRecorded,
        timeline: Timeline,
        found: extractor.Extraction,
        model: str,
    ) -> list[NewEvent]:
        cause = synthesized.event_id
        derived: list[tuple[str, EventData]] = []
        if found.fallback_reason is None:
            # The model's findings only: when it could not be used, the rules' facts
            # (already in the timeline) stand, and are not said a second time.
            derived = timeline.decide(
                cause=cause,
                memory_id=memory.memory_id,
                user_id=memory.user_id,
                at=synthesized.occurred_at,
                found=found,
                agent_id=memory.agent_id,
                about=speaker_of(memory.metadata, memory.user_id).about,
            )
        done = MemoryRefined(
            memory_id=memory.memory_id,
            user_id=memory.user_id,
            extractor=model,
            fallback_reason=found.fallback_reason,
            fact_ids=[d.fact.fact_id for _, d in derived if isinstance(d, FactExtracted)],
            entity_ids=list(
                dict.fromkeys(
                    d.entity.entity_id for _, d in derived if isinstance(d, EntityExtracted)
                )
            ),
            superseded_fact_ids=[d.fact_id for _, d in derived if isinstance(d, FactSuperseded)],
            corroborated_fact_ids=[
                d.fact_id for _, d in derived if isinstance(d, FactCorroborated)
            ],
        )
        derived.append((derived_id(cause, "memory.refined"), done))
        timeline.apply(done, synthesized.occurred_at)
        return [caused_by(synthesized, event_id, data) for event_id, data in derived]

    def _events(
        self,
        envelope: Envelope,
        memory: MemoryRecorded,
        timeline: Timeline,
        found: extractor.Extraction,
    ) -> list[NewEvent]:
        cause = envelope.event_id
        derived = timeline.decide(
            cause=cause,
            memory_id=memory.memory_id,
            user_id=memory.user_id,
            at=envelope.occurred_at,
            found=found,
            agent_id=memory.agent_id,
            about=speaker_of(memory.metadata, memory.user_id).about,
        )
        done = MemorySynthesized(
            memory_id=memory.memory_id,
            user_id=memory.user_id,
            fact_ids=[d.fact.fact_id for _, d in derived if isinstance(d, FactExtracted)],
            extractor=found.extractor,
            fallback_reason=found.fallback_reason,
            entity_ids=list(
                dict.fromkeys(
                    d.entity.entity_id for _, d in derived if isinstance(d, EntityExtracted)
                )
            ),
            superseded_fact_ids=[d.fact_id for _, d in derived if isinstance(d, FactSuperseded)],
        )
        derived.append((derived_id(cause, "memory.synthesized"), done))
        # The timeline is kept past this append: it knows the memory is in it.
        timeline.apply(done, envelope.occurred_at)
        return [caused_by(envelope, event_id, data) for event_id, data in derived]

    async def _passes_if_due(self, tenant_id: str, envelopes: list[Envelope]) -> None:
        """A `subject.synthesized` for each pass these memories complete (of one subject)."""
        memories = [e.data for e in envelopes if isinstance(e.data, MemoryRecorded)]
        completed = await self._passes.complete_passes(tenant_id, memories)
        by_id = {e.data.memory_id: e for e in envelopes if isinstance(e.data, MemoryRecorded)}
        for last, members in completed:
            envelope = by_id[last.memory_id]
            # The same id whichever replica sees the batch's last memory: stored once.
            pass_id = (
                derived_id(last.batch_id, tenant_id, last.user_id, "subject.synthesized")
                if last.batch_id
                else derived_id(envelope.event_id, "subject.synthesized")
            )
            event = caused_by(
                envelope,
                pass_id,
                SubjectSynthesized(
                    user_id=last.user_id, memory_ids=members, batch_id=last.batch_id
                ),
            )
            await self._store.append(pass_stream(tenant_id, last.user_id), [event])
            log.info("subject_synthesized", memories=len(members), batch_id=last.batch_id)


class ReadModelHandlers:
    """Keeps the facts and entities read models and answers profile and entity queries."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._log = EventStore(pool)
        self.facts = FactTable(pool)
        self.entities = EntityTable(pool)
        # After withdrawals (memories deleted): the tables rewritten, coalesced (one per
        # few seconds at most), so what only those memories said leaves the disk.
        self.compaction = CoalescedCompaction(self._compact)

    async def apply(self, envelopes: list[Envelope]) -> None:
        """Apply in log order, in one transaction: facts, endings, evidence and mentions are
        recorded; a forgotten subject's rows are dropped, and then leave the disk."""
        # Derived before the forget, delivered after the gateway had the subject dropped:
        # recording it would show it again until `memory.forgotten` comes by.
        gone = await self._log.unreadable([e.event_id for e in envelopes])
        if gone:
            log.info("derived_forgotten_before_recorded", count=len(gone))
            envelopes = [e for e in envelopes if e.event_id not in gone]
        forgot, silenced, dropped = False, 0, 0
        # Subjects a deleted memory was withdrawn from: projected again from their stream,
        # once per batch. Their later events apply one by one as any: decided on a timeline
        # that no longer held what the memory said, they never refer to it.
        withdrawn: set[tuple[str, str]] = set()
        async with self._pool.acquire() as conn, conn.transaction():
            envelopes = await self._not_reprojected(conn, envelopes)
            run: list[Envelope] = []
            for envelope in envelopes:
                if isinstance(envelope.data, MemoryForgotten):
                    await self._record(conn, run)
                    run = []
                    user_id = envelope.data.user_id
                    dropped += await self.facts.forget(conn, envelope.tenant_id, user_id)
                    dropped += await self.entities.forget(conn, envelope.tenant_id, user_id)
                    # The gateway had the rows dropped already (`drop_subject`): what the
                    # forget silenced in the log says whether there were any.
                    silenced += silenced_by(envelope.data)
                    withdrawn.discard((envelope.tenant_id, user_id))
                    forgot = True
                elif isinstance(envelope.data, MemoryWithdrawn | AgentWithdrawn):
                    withdrawn.add((envelope.tenant_id, envelope.data.user_id))
                else:
                    run.append(envelope)
            await self._record(conn, run)
            for tenant_id, user_id in withdrawn:
                await self._reproject(conn, tenant_id, user_id)
        if forgot and worth_compacting(silenced, dropped):
            await compact(self._pool, await schema_tables(self._pool, "synthesis"))
        elif withdrawn:
            self.compaction.due()

    async def _compact(self) -> None:
        await compact(self._pool, await schema_tables(self._pool, "synthesis"))

    async def drop_subject(self, query: ForgetSubject) -> Dropped:
        """Asked by the gateway once ingest has forgotten the subject (reads after the
        forget); `memory.forgotten` does it again when it arrives, then compacts."""
        async with self._pool.acquire() as conn, conn.transaction():
            await self.facts.forget(conn, query.tenant_id, query.user_id)
            await self.entities.forget(conn, query.tenant_id, query.user_id)
        return Dropped(removed=0)

    async def reproject(self, tenant_id: str, user_id: str) -> None:
        """The subject's read models once more from its stream, as it counts now."""
        async with self._pool.acquire() as conn, conn.transaction():
            await self._reproject(conn, tenant_id, user_id)

    async def _reproject(self, conn: asyncpg.Connection, tenant_id: str, user_id: str) -> None:
        """The subject's facts and entities once more from its stream, as it counts now
        (`timeline.counted`: without what withdrawn memories said). Its events still on
        their way here are not recorded again (`_not_reprojected`)."""
        stream = facts_stream(tenant_id, user_id)
        await _hold_streams(conn, [stream])
        events = await self._log.read_stream(stream)
        await self.facts.forget(conn, tenant_id, user_id)
        await self.entities.forget(conn, tenant_id, user_id, mentions_only=True)
        await self._record(conn, counted(events))
        await conn.execute(
            """INSERT INTO synthesis.reprojected (stream_id, stream_version) VALUES ($1, $2)
               ON CONFLICT (stream_id) DO UPDATE SET stream_version =
                 GREATEST(synthesis.reprojected.stream_version, excluded.stream_version)""",
            stream,
            events[-1].stream_version if events else -1,
        )

    async def _not_reprojected(
        self, conn: asyncpg.Connection, envelopes: list[Envelope]
    ) -> list[Envelope]:
        """Those of `envelopes` a projection of their subject's whole stream has not taken
        in already: one delivered after it would record again what it left out (a fact of
        a withdrawn agent). Holds the subjects' streams until the transaction ends, so a
        projection of the whole stream waits for this one, or came before it."""
        streams = sorted({e.stream_id for e in envelopes if e.stream_id.startswith(_FACTS)})
        if not streams:
            return envelopes
        await _hold_streams(conn, streams)
        rows = await conn.fetch(
            """SELECT stream_id, stream_version FROM synthesis.reprojected
               WHERE stream_id = ANY($1::text[])""",
            streams,
        )
        done = {r["stream_id"]: r["stream_version"] for r in rows}
        return [e for e in envelopes if e.stream_version > done.get(e.stream_id, -1)]

    async def _record(self, conn: asyncpg.Connection, run: list[Envelope]) -> None:
        await self.facts.record_all(conn, run)
        await self.entities.record_all(conn, run)

    async def clear(self) -> None:
        """Empty every read model (before a rebuild from the log)."""
        await self._pool.execute(
            """TRUNCATE synthesis.facts, synthesis.fact_endings, synthesis.fact_evidence,
                        synthesis.fact_marks, synthesis.entity_mentions, synthesis.subjects,
                        synthesis.reprojected"""
        )

    async def events(self, deliveries: list[Delivery]) -> None:
        await self.apply([d.decode(Envelope) for d in deliveries])

    async def event(self, delivery: Delivery) -> None:
        await self.events([delivery])

    async def profile(self, query: ProfileQuery) -> Profile:
        return await self.facts.profile(query)

    async def entity_graph(self, query: EntitiesQuery) -> EntityGraph | QueryError:
        return await self.entities.graph(query)
