"""What ingest does for each command."""

from mnemo.bus import Delivery
from mnemo.contracts import IngestMemory, MemoryRecorded, NewEvent, derived_id
from mnemo.eventlog import NO_STREAM, EventStore, WrongExpectedVersion
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "ingest"


def memory_stream(tenant_id: str, memory_id: str) -> str:
    return f"memory-{tenant_id}-{memory_id}"


class IngestHandlers:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def ingest_memory(self, delivery: Delivery) -> None:
        """Append `memory.recorded` for the command; a repeat of it appends nothing."""
        command: IngestMemory = delivery.decode(IngestMemory)
        event = NewEvent(
            # Derived from the command id: a redelivered command yields the same event id.
            event_id=derived_id(command.command_id, "memory.recorded"),
            tenant_id=command.tenant_id,
            occurred_at=command.occurred_at or command.issued_at,
            correlation_id=delivery.correlation_id,
            causation_id=command.command_id,
            actor=command.actor,
            service=SERVICE,
            traceparent=delivery.headers.get("traceparent"),
            data=MemoryRecorded(
                memory_id=command.memory_id,
                user_id=command.user_id,
                content=command.content,
                source_type=command.source_type,
                source_id=command.source_id,
                session_id=command.session_id,
                agent_id=command.agent_id,
                metadata=command.metadata,
            ),
        )
        stream = memory_stream(command.tenant_id, command.memory_id)
        try:
            stored = await self._store.append(stream, [event], expected_version=NO_STREAM)
        except WrongExpectedVersion:
            # The memory exists already (another command with the same memory id, e.g. the
            # same sourceId sent twice): it is stored once, and this command is done.
            log.info("memory_already_recorded", memory_id=command.memory_id)
            return
        log.info(
            "memory_recorded",
            memory_id=command.memory_id,
            event_id=stored[0].event_id,
            position=stored[0].global_position,
        )
