"""What synthesis does for each recorded memory."""

from mnemo.bus import Delivery
from mnemo.contracts import (
    Envelope,
    ExtractedFact,
    FactExtracted,
    MemoryForgotten,
    MemoryRecorded,
    MemorySynthesized,
    NewEvent,
    Profile,
    ProfileQuery,
    SubjectSynthesized,
    derived_id,
    utcnow,
)
from mnemo.eventlog import NO_STREAM, EventStore, WrongExpectedVersion
from mnemo.synthesis import extractor
from mnemo.synthesis.passes import PassTracker
from mnemo.synthesis.profiles import FactTable
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "synthesis"


def synthesis_stream(tenant_id: str, memory_id: str) -> str:
    return f"synthesis-{tenant_id}-{memory_id}"


def pass_stream(tenant_id: str, user_id: str) -> str:
    return f"synthesis-pass-{tenant_id}-{derived_id('subject', tenant_id, user_id)}"


class SynthesisHandlers:
    def __init__(self, store: EventStore, passes: PassTracker) -> None:
        self._store = store
        self._passes = passes

    async def memory_recorded(self, delivery: Delivery) -> None:
        """Extract facts and append them, plus `memory.synthesized`, caused by the memory."""
        envelope: Envelope = delivery.decode(Envelope)
        memory = envelope.data
        if not isinstance(memory, MemoryRecorded):
            return
        cause = envelope.event_id
        facts = [
            ExtractedFact(
                fact_id=derived_id(cause, "fact", f.attribute, f.value.lower()),
                attribute=f.attribute,
                value=f.value,
                statement=f.statement,
                kind=f.kind,
                confidence=f.confidence,
                span=f.span,
            )
            for f in extractor.extract(memory.content)
        ]
        common = {
            "tenant_id": envelope.tenant_id,
            "occurred_at": envelope.occurred_at,
            "correlation_id": envelope.correlation_id,
            "causation_id": cause,
            "actor": SERVICE,
            "service": SERVICE,
        }
        events = [
            NewEvent(
                event_id=fact.fact_id,
                data=FactExtracted(
                    memory_id=memory.memory_id,
                    user_id=memory.user_id,
                    fact=fact,
                    extractor=extractor.NAME,
                ),
                **common,  # type: ignore[arg-type]
            )
            for fact in facts
        ]
        events.append(
            NewEvent(
                event_id=derived_id(cause, "memory.synthesized"),
                data=MemorySynthesized(
                    memory_id=memory.memory_id,
                    user_id=memory.user_id,
                    fact_ids=[f.fact_id for f in facts],
                    extractor=extractor.NAME,
                ),
                **common,  # type: ignore[arg-type]
            )
        )
        stream = synthesis_stream(envelope.tenant_id, memory.memory_id)
        try:
            await self._store.append(stream, events, expected_version=NO_STREAM)
        except WrongExpectedVersion:
            log.info("memory_already_synthesized", memory_id=memory.memory_id)
        # Even when the memory was done before (a redelivery), its pass may not have been.
        await self._pass_if_due(envelope, memory)
        log.info(
            "memory_synthesized",
            memory_id=memory.memory_id,
            facts=len(facts),
            lag_ms=int((utcnow() - envelope.recorded_at).total_seconds() * 1000),
        )

    async def _pass_if_due(self, envelope: Envelope, memory: MemoryRecorded) -> None:
        members = await self._passes.complete_pass(envelope.tenant_id, memory)
        if members is None:
            return
        # The same id whichever replica sees the batch's last memory: stored once.
        pass_id = (
            derived_id(memory.batch_id, envelope.tenant_id, memory.user_id, "subject.synthesized")
            if memory.batch_id
            else derived_id(envelope.event_id, "subject.synthesized")
        )
        event = NewEvent(
            event_id=pass_id,
            tenant_id=envelope.tenant_id,
            occurred_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.event_id,
            actor=SERVICE,
            service=SERVICE,
            data=SubjectSynthesized(
                user_id=memory.user_id, memory_ids=members, batch_id=memory.batch_id
            ),
        )
        await self._store.append(pass_stream(envelope.tenant_id, memory.user_id), [event])
        log.info("subject_synthesized", memories=len(members), batch_id=memory.batch_id)


class ProfileHandlers:
    """Keeps the facts read model and answers profile queries."""

    def __init__(self, facts: FactTable) -> None:
        self._facts = facts

    async def fact_events(self, deliveries: list[Delivery]) -> None:
        """Apply in stream order: facts are recorded, a forgotten subject's facts dropped."""
        run: list[Envelope] = []
        for envelope in (d.decode(Envelope) for d in deliveries):
            if isinstance(envelope.data, MemoryForgotten):
                await self._facts.record_all(run)
                run = []
                await self._facts.forget(envelope.tenant_id, envelope.data.user_id)
            else:
                run.append(envelope)
        await self._facts.record_all(run)

    async def fact_event(self, delivery: Delivery) -> None:
        await self.fact_events([delivery])

    async def profile(self, query: ProfileQuery) -> Profile:
        return await self._facts.profile(query)
