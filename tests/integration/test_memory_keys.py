"""Per-memory data keys: deleting one memory shreds its key in the deletion's transaction,
so its sealed recording (every version of it) can never be opened again, while the
user's other memories stay readable; a forget shreds the memory keys with the subject's."""

from mnemo.contracts import (
    DeletedMemory,
    DeleteMemory,
    MemoryDeleted,
    MemoryRecorded,
    MemoryVersionsQuery,
    NewEvent,
    QueryError,
    RevisedMemory,
    new_id,
)
from mnemo.eventlog import EventStore
from mnemo.eventlog.keyring import KeyRing
from mnemo.ingest.handlers import IngestHandlers, memory_stream
from mnemo.ingest.revisions import MemoryRevisions

from .helpers import new_event
from .test_memory_revisions import TENANT, recorded, revise


async def sealed_rows(pool, memory_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT data::text AS d FROM mnemo.events"
        " WHERE event_type = 'memory.recorded' AND data->>'memory_id' = $1",
        memory_id,
    )
    return [r["d"] for r in rows]


async def memory_keys(pool, user_id: str = "alice") -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM mnemo.memory_keys WHERE tenant_id = $1 AND user_id = $2",
        TENANT,
        user_id,
    )


def delete(memory_id: str) -> DeleteMemory:
    return DeleteMemory(tenant_id=TENANT, memory_id=memory_id, actor="key:k1")


async def test_each_memory_is_sealed_under_a_key_of_its_own(log_pool):
    store = EventStore(log_pool)
    first = await recorded(store, "my locker code is 4711")
    second = await recorded(store, "my bike is blue")
    keys = {
        await store.sealed_key(e.event_id)
        for m in (first, second)
        for e in await store.read_stream(memory_stream(TENANT, m))
    }
    assert len(keys) == 2 and await memory_keys(log_pool) == 2
    subject_key, _ = await store.keyring.key_for(log_pool, TENANT, "alice")
    assert subject_key not in keys


async def test_a_deleted_memorys_recording_cannot_be_opened_and_the_others_can(log_pool):
    store = EventStore(log_pool)
    handlers = IngestHandlers(store)
    gone = await recorded(store, "my locker code is 4711")
    kept = await recorded(store, "my bike is blue")
    [recording] = await store.read_stream(memory_stream(TENANT, gone))

    done = await handlers.delete_memory(delete(gone))
    assert isinstance(done, DeletedMemory)
    # The row is still in the log, unchanged; its key is not anywhere.
    assert len(await sealed_rows(log_pool, gone)) == 1
    assert await store.get(recording.event_id) is None
    assert await store.read_events([recording.event_id]) == []
    assert await store.unreadable([recording.event_id]) == {recording.event_id}
    [deleted] = await store.read_stream(memory_stream(TENANT, gone))
    assert isinstance(deleted.data, MemoryDeleted)
    # A rebuild from the log does not see it; the other memory is there, readable.
    readable, _ = await store.read_all()
    contents = [e.data.content for e in readable if hasattr(e.data, "content")]
    assert contents == ["my bike is blue"]
    assert await memory_keys(log_pool) == 1
    [other] = await store.read_stream(memory_stream(TENANT, kept))
    assert other.data.content == "my bike is blue"
    # Deleting it again answers the same deletion, and removes nothing more.
    again = await handlers.delete_memory(delete(gone))
    assert again == done


async def test_deleting_a_revised_memory_shreds_every_version(log_pool):
    """A memory revised (Mem0's update) lives on in another; deleting it by any version's
    id deletes the current one, and no version's words can be read after."""
    store = EventStore(log_pool)
    revisions = MemoryRevisions(store, lambda _text: [])
    handlers = IngestHandlers(store)
    first = await recorded(store, "I live in Lisbon")
    second = await revisions.revise(revise(first, "I live in Porto"))
    assert isinstance(second, RevisedMemory)
    third = await revisions.revise(revise(second.memory_id, "I live in Faro"))
    assert isinstance(third, RevisedMemory)
    kept = await recorded(store, "I like figs")
    # The versions share the first one's key: their history reads while the memory lives.
    assert len((await revisions.versions(_versions(first))).versions) == 3  # type: ignore[union-attr]

    done = await handlers.delete_memory(delete(first))
    assert isinstance(done, DeletedMemory) and done.version_id == third.memory_id
    readable, _ = await store.read_all()
    contents = [e.data.content for e in readable if hasattr(e.data, "content")]
    assert contents == ["I like figs"]
    assert await memory_keys(log_pool) == 1
    # By any version's id, the deletion is found done.
    for memory_id in (first, second.memory_id, third.memory_id):
        again = await handlers.delete_memory(delete(memory_id))
        assert isinstance(again, DeletedMemory) and again.event_id == done.event_id
    # Nor can the deleted memory be revised again.
    refused = await revisions.revise(revise(third.memory_id, "I live in Beja"))
    assert not isinstance(refused, RevisedMemory)
    [other] = await store.read_stream(memory_stream(TENANT, kept))
    assert other.data.content == "I like figs"


async def test_a_forget_shreds_the_memory_keys_of_the_subject_only(log_pool):
    store = EventStore(log_pool)
    await recorded(store, "alice likes tea")
    await recorded(store, "alice lives in Oslo")
    bobs = await EventStore(log_pool).append(
        "s-b1",
        [_said("bob", "bob likes coffee")],
    )
    removed = await store.forget_subject(TENANT, "alice")
    assert removed == {"memory.recorded": 2}
    assert await memory_keys(log_pool) == 0 and await memory_keys(log_pool, "bob") == 1
    readable, _ = await store.read_all()
    assert [e.event_id for e in readable] == [bobs[0].event_id]


async def test_a_memory_recorded_again_after_its_deletion_gets_a_new_key(log_pool):
    """The same sourceId sent again after the memory was deleted records it anew: readable,
    under a new key, while the deleted recording stays shut."""
    store = EventStore(log_pool)
    handlers = IngestHandlers(store)
    memory_id = await recorded(store, "first words")
    [old] = await store.read_stream(memory_stream(TENANT, memory_id))
    await handlers.delete_memory(delete(memory_id))
    again = _said("alice", "second words", memory_id=memory_id)
    [stored] = await store.append(memory_stream(TENANT, memory_id), [again])
    assert await store.sealed_key(stored.event_id) != await store.sealed_key(old.event_id)
    readable = await store.read_stream(memory_stream(TENANT, memory_id))
    assert [type(e.data).__name__ for e in readable] == ["MemoryDeleted", "MemoryRecorded"]
    assert readable[-1].data.content == "second words"


async def test_a_memory_sealed_under_its_subjects_key_keeps_it(log_pool):
    """Recorded before memories had keys of their own: sealed under the subject's key,
    which its deletion does not shred (the user's other memories and facts share it); it
    goes when the user is forgotten."""

    class KeysOfSubjectsOnly(KeyRing):
        async def memory_keys(self, conn, memories, lineage=None):
            return {}

    before = EventStore(log_pool)
    before.keyring = KeysOfSubjectsOnly()
    legacy = await recorded(before, "words from before")
    [event] = await before.read_stream(memory_stream(TENANT, legacy))
    subject_key, _ = await before.keyring.key_for(log_pool, TENANT, "alice")
    assert await before.sealed_key(event.event_id) == subject_key

    store = EventStore(log_pool)
    done = await IngestHandlers(store).delete_memory(delete(legacy))
    assert isinstance(done, DeletedMemory)
    readable = await store.read_stream(memory_stream(TENANT, legacy))
    assert [type(e.data).__name__ for e in readable] == ["MemoryRecorded", "MemoryDeleted"]
    assert await IngestHandlers(store).delete_memory(delete(legacy)) == done
    await store.forget_subject(TENANT, "alice")
    assert [
        type(e.data).__name__ for e in await store.read_stream(memory_stream(TENANT, legacy))
    ] == ["MemoryDeleted"]


def _versions(memory_id: str) -> MemoryVersionsQuery:
    return MemoryVersionsQuery(tenant_id=TENANT, memory_id=memory_id)


def _said(user: str, content: str, memory_id: str | None = None) -> NewEvent:
    data = MemoryRecorded(memory_id=memory_id or new_id(), user_id=user, content=content)
    return new_event(data, TENANT)


async def test_a_deletion_asked_again_after_its_user_was_forgotten_finds_nothing(log_pool):
    """A deletion retried once the user is forgotten answers as for an id never seen: nothing
    of a forgotten subject's memories is shown, not even that one was deleted."""
    store = EventStore(log_pool)
    handlers = IngestHandlers(store)
    gone = await recorded(store, "words")
    assert isinstance(await handlers.delete_memory(delete(gone)), DeletedMemory)
    await store.forget_subject(TENANT, "alice")
    again = await handlers.delete_memory(delete(gone))
    assert isinstance(again, QueryError) and again.code == "not_found", again
