"""A deleted memory stays deleted: a command naming it (its sourceId or id sent again)
that was accepted before the deletion but reaches the log after it (a backlog) does not
bring it back; one sent after the deletion records it again (EventStore.mark_deleted)."""

from mnemo.contracts import (
    DeleteMemory,
    IngestMemory,
    MemoryDeleted,
    MemoryRecorded,
    new_id,
    utcnow,
)
from mnemo.eventlog import EventStore
from mnemo.ingest.handlers import IngestHandlers, memory_stream

from .helpers import delivery


async def test_a_command_sent_before_a_deletion_does_not_bring_the_memory_back(log_pool):
    store = EventStore(log_pool)
    head = [0]

    async def command_stream() -> tuple[int, bool]:
        return head[0], False

    handlers = IngestHandlers(store, command_stream=command_stream)
    memory_id = new_id()

    async def send(sequence: int, content: str) -> None:
        command = IngestMemory(
            command_id=new_id(), tenant_id="acme", issued_at=utcnow(), actor="test",
            memory_id=memory_id, user_id="jo", content=content,
        )  # fmt: skip
        head[0] = max(head[0], sequence)
        await handlers.ingest_memory(
            delivery(command, "cmd.ingest.memory.acme", "acme", command.command_id, sequence, "c")
        )

    async def life() -> list[str]:
        events = await store.read_stream(memory_stream("acme", memory_id))
        return [e.event_type for e in events]

    await send(1, "the first words")
    head[0] = 2  # the same sourceId sent again, still on its way when the memory is deleted
    deleted = await handlers.delete_memory(
        DeleteMemory(tenant_id="acme", memory_id=memory_id, actor="test")
    )
    assert deleted.memory_id == memory_id
    await send(2, "sent again before the deletion")
    # (The deleted recording's key went with it: it cannot be read any more.)
    assert await life() == ["memory.deleted"]
    await send(3, "sent again after the deletion")
    events = await store.read_stream(memory_stream("acme", memory_id))
    assert [type(e.data) for e in events] == [MemoryDeleted, MemoryRecorded]
    assert events[-1].data.content == "sent again after the deletion"
