"""What synthesis does for each recorded memory."""

from mnemo.bus import Delivery
from mnemo.contracts import (
    Envelope,
    ExtractedFact,
    FactExtracted,
    MemoryRecorded,
    MemorySynthesized,
    NewEvent,
    derived_id,
    utcnow,
)
from mnemo.eventlog import NO_STREAM, EventStore, WrongExpectedVersion
from mnemo.synthesis import extractor
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "synthesis"


def synthesis_stream(tenant_id: str, memory_id: str) -> str:
    return f"synthesis-{tenant_id}-{memory_id}"


class SynthesisHandlers:
    def __init__(self, store: EventStore) -> None:
        self._store = store

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
            return
        log.info(
            "memory_synthesized",
            memory_id=memory.memory_id,
            facts=len(facts),
            lag_ms=int((utcnow() - envelope.recorded_at).total_seconds() * 1000),
        )
