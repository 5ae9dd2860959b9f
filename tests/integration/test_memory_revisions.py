"""Revising a memory against a real log: versions linked in order, one winner of a race,
another agent's memory not found, a forgotten subject's versions unreadable."""

import asyncio

from mnemo.contracts import (
    DeletedMemory,
    DeleteMemory,
    IngestMemory,
    MemoryDeleted,
    MemoryRecorded,
    MemoryVersions,
    MemoryVersionsQuery,
    NewEvent,
    QueryError,
    RevisedMemory,
    ReviseMemory,
    derived_id,
    new_id,
    utcnow,
)
from mnemo.eventlog import EventStore
from mnemo.eventlog.keyring import KeyRing
from mnemo.ingest.handlers import IngestHandlers, memory_stream
from mnemo.ingest.revisions import MemoryRevisions

from .helpers import new_event

TENANT = "acme"


async def recorded(store: EventStore, content: str, agent_id: str | None = "a1") -> str:
    memory_id = new_id()
    event = NewEvent(
        event_id=new_id(),
        tenant_id=TENANT,
        occurred_at=utcnow(),
        correlation_id=new_id(),
        causation_id=new_id(),
        actor="test",
        service="test",
        data=MemoryRecorded(
            memory_id=memory_id, user_id="alice", content=content, agent_id=agent_id
        ),
    )
    await store.append(memory_stream(TENANT, memory_id), [event])
    return memory_id


def revise(
    memory_id: str, content: str, agent_id: str | None = None, tenant: str = TENANT
) -> ReviseMemory:
    revision = IngestMemory(
        command_id=new_id(),
        tenant_id=tenant,
        issued_at=utcnow(),
        actor="key:k1",
        memory_id=new_id(),
        # Whatever the command names, the version stays where the first one was.
        user_id="mallory",
        content=content,
    )
    return ReviseMemory(
        tenant_id=tenant, memory_id=memory_id, revision=revision, actor="key:k1", agent_id=agent_id
    )


async def versions(revisions: MemoryRevisions, memory_id: str, agent_id: str | None = None):
    return await revisions.versions(
        MemoryVersionsQuery(tenant_id=TENANT, memory_id=memory_id, agent_id=agent_id)
    )


async def test_versions_follow_the_revisions_in_order(log_pool):
    store = EventStore(log_pool)
    revisions = MemoryRevisions(store, lambda _text: [])
    first = await recorded(store, "I live in Lisbon")
    second = await revisions.revise(revise(first, "I live in Porto"))
    assert isinstance(second, RevisedMemory) and second.replaced == first
    third = await revisions.revise(revise(second.memory_id, "I live in Faro", agent_id="a1"))
    assert isinstance(third, RevisedMemory)
    found = await versions(revisions, first)
    assert isinstance(found, MemoryVersions)
    assert [v.content for v in found.versions] == [
        "I live in Lisbon",
        "I live in Porto",
        "I live in Faro",
    ]
    assert [v.replaced_by for v in found.versions] == [second.memory_id, third.memory_id, None]
    assert {v.user_id for v in found.versions} == {"alice"}
    assert {v.agent_id for v in found.versions} == {"a1"}
    assert found.versions[1].recorded_by == "key:k1" and found.versions[-1].deleted_at is None
    # From a later version on, the chain is the rest of it.
    later = await versions(revisions, second.memory_id)
    assert isinstance(later, MemoryVersions) and len(later.versions) == 2
    # A retried revision (the same command) is answered as it was, and stores nothing new.
    again = await revisions.revise(revise_again := revise(third.memory_id, "I live in Beja"))
    assert isinstance(again, RevisedMemory)
    assert await revisions.revise(revise_again) == again
    assert len((await versions(revisions, first)).versions) == 4  # type: ignore[union-attr]
    # A replaced version is not revised again: the current one is.
    stale = await revisions.revise(revise(first, "I live in Braga"))
    assert isinstance(stale, QueryError) and stale.code == "conflict"


async def test_of_two_revisions_of_one_version_one_wins(log_pool):
    store = EventStore(log_pool)
    revisions = MemoryRevisions(store, lambda _text: [])
    first = await recorded(store, "I drink tea")
    answers = await asyncio.gather(
        revisions.revise(revise(first, "I drink coffee")),
        revisions.revise(revise(first, "I drink water")),
    )
    assert sorted(type(a).__name__ for a in answers) == ["QueryError", "RevisedMemory"]
    found = await versions(revisions, first)
    assert isinstance(found, MemoryVersions) and len(found.versions) == 2
    [won] = [a for a in answers if isinstance(a, RevisedMemory)]
    assert found.versions[1].memory_id == won.memory_id


async def test_another_agents_memory_and_a_forgotten_subjects_are_not_found(log_pool):
    store = EventStore(log_pool)
    revisions = MemoryRevisions(store, lambda _text: [])
    first = await recorded(store, "my locker code is 4711")
    refused = await revisions.revise(revise(first, "0000", agent_id="a2"))
    assert isinstance(refused, QueryError) and refused.code == "not_found"
    assert isinstance(await versions(revisions, first, agent_id="a2"), QueryError)
    await store.forget_subject(TENANT, "alice")
    gone = await versions(revisions, first)
    assert isinstance(gone, QueryError) and gone.code == "not_found"


async def test_a_revision_racing_a_forget_records_nothing_under_a_new_key(log_pool):
    """The forget commits between the revision's read of the memory and its appends: the
    new words must not be sealed under a key the subject gets anew, readable ever after."""

    class ForgottenAfterRead(EventStore):
        async def read_stream(self, stream_id: str):
            found = await super().read_stream(stream_id)
            await self.forget_subject(TENANT, "alice")
            return found

    store = ForgottenAfterRead(log_pool)
    first = await recorded(store, "my locker code is 4711")
    answer = await MemoryRevisions(store, lambda _text: []).revise(revise(first, "now it is 9999"))
    assert isinstance(answer, QueryError) and answer.code == "not_found"
    readable, _ = await store.read_all()
    assert readable == []
    keys = "SELECT count(*) FROM mnemo.subject_keys WHERE tenant_id = $1 AND user_id = 'alice'"
    assert await log_pool.fetchval(keys, TENANT) == 0


async def test_a_revision_is_one_append_all_of_it_or_none(log_pool):
    """The old version's end and the new version are written in one transaction: a
    consumer taking appends whole sees them together, and a failure in the middle leaves
    the memory as it was (two appends left it deleted with no successor)."""

    class FailsOnTheSuccessor(EventStore):
        async def _write(self, conn, stream_id, events, *args):
            if isinstance(events[0].data, MemoryRecorded):
                raise ConnectionResetError("the database went away")
            return await super()._write(conn, stream_id, events, *args)

    store = EventStore(log_pool)
    first = await recorded(store, "I live in Lisbon")
    command = revise(first, "I live in Porto")
    try:
        await MemoryRevisions(FailsOnTheSuccessor(log_pool), lambda _text: []).revise(command)
    except ConnectionResetError:
        pass
    revisions = MemoryRevisions(store, lambda _text: [])
    found = await versions(revisions, first)
    assert isinstance(found, MemoryVersions)
    assert [(v.content, v.deleted_at) for v in found.versions] == [("I live in Lisbon", None)]
    # The client's retry goes through, in one transaction.
    done = await revisions.revise(command)
    assert isinstance(done, RevisedMemory)
    transactions = await log_pool.fetch(
        "SELECT DISTINCT transaction_id::text FROM mnemo.events WHERE event_id = ANY($1::uuid[])",
        done.event_ids,
    )
    assert len(done.event_ids) == 2 and len(transactions) == 1


async def test_a_revision_cut_between_two_appends_completes_on_retry(log_pool):
    """A revision interrupted before revisions were one append left the old version's end
    stored without its successor: the retry appends the successor alone."""
    store = EventStore(log_pool)
    revisions = MemoryRevisions(store, lambda _text: [])
    first = await recorded(store, "I drink tea")
    command = revise(first, "I drink coffee")
    ended = new_event(
        MemoryDeleted(
            memory_id=first, user_id="alice", agent_id="a1", replaced_by=command.revision.memory_id
        ),
        TENANT,
        derived_id(command.revision.command_id, "memory.deleted"),
    )
    await store.append(memory_stream(TENANT, first), [ended])
    cut = await versions(revisions, first)
    assert isinstance(cut, MemoryVersions) and len(cut.versions) == 1
    done = await revisions.revise(command)
    assert isinstance(done, RevisedMemory) and done.event_ids[0] == ended.event_id
    found = await versions(revisions, first)
    assert isinstance(found, MemoryVersions)
    assert [v.content for v in found.versions] == ["I drink tea", "I drink coffee"]


async def test_a_revision_that_loses_a_race_for_the_version_is_a_conflict(log_pool):
    """Another writer ends the memory between the revision's version read and its write:
    the store's unique version stops the write, and the answer is a conflict, not a 500."""

    class Raced(EventStore):
        async def _versions(self, conn, stream_ids):
            read = await super()._versions(conn, stream_ids)
            if len(stream_ids) > 1:  # the revision's append: someone else writes first
                gone = MemoryDeleted(memory_id=first, user_id="alice", agent_id="a1")
                await EventStore(log_pool).append(memory_stream(TENANT, first), [new_event(gone)])
            return read

    first = await recorded(EventStore(log_pool), "I drink tea")
    answer = await MemoryRevisions(Raced(log_pool), lambda _text: []).revise(
        revise(first, "I drink coffee")
    )
    assert isinstance(answer, QueryError) and answer.code == "conflict"
    found = await versions(MemoryRevisions(EventStore(log_pool), lambda _text: []), first)
    assert isinstance(found, MemoryVersions)  # deleted by the other writer, not revised
    [only] = found.versions
    assert only.deleted_at is not None and only.replaced_by is None


async def test_deleting_a_revised_memory_deletes_the_version_it_lives_on_in(log_pool):
    """Mem0's update and delete of one memory, at once: the revision lands between the
    deletion's read and its write. The deletion looks again and deletes the new version,
    so the two never both answer success with the memory still there; and deleting by a
    replaced version's id deletes the current one."""
    first = await recorded(EventStore(log_pool), "I drink tea")
    revisions = MemoryRevisions(EventStore(log_pool), lambda _text: [])

    class Raced(EventStore):
        revised: RevisedMemory | None = None

        async def read_stream(self, stream_id):  # type: ignore[no-untyped-def]
            read = await super().read_stream(stream_id)
            if self.revised is None:  # the update lands right after the deletion read
                answer = await revisions.revise(revise(first, "I drink coffee"))
                assert isinstance(answer, RevisedMemory)
                self.revised = answer
            return read

    store = Raced(log_pool)
    handlers = IngestHandlers(store)
    deleted = await handlers.delete_memory(
        DeleteMemory(tenant_id=TENANT, memory_id=first, actor="key:k1")
    )
    assert isinstance(deleted, DeletedMemory)
    assert store.revised is not None
    # The new version was the one deleted, and with it every version's words (its versions
    # shared its key): the history keeps the changes, erased of their words.
    assert deleted.version_id == store.revised.memory_id
    found = await versions(revisions, first)
    assert isinstance(found, MemoryVersions)
    assert [(v.memory_id, v.replaced_by, v.erased, v.content) for v in found.versions] == [
        (first, store.revised.memory_id, True, ""),
        (store.revised.memory_id, None, True, ""),
    ]
    assert found.versions[-1].deleted_by == "key:k1"
    readable, _ = await EventStore(log_pool).read_all()
    assert not [e for e in readable if isinstance(e.data, MemoryRecorded)]

    # By a replaced version's id, later: the current version is the one deleted.
    again = await recorded(EventStore(log_pool), "I live in Oslo")
    moved = await revisions.revise(revise(again, "I live in Bergen"))
    assert isinstance(moved, RevisedMemory)
    plain = IngestHandlers(EventStore(log_pool))
    done = await plain.delete_memory(
        DeleteMemory(tenant_id=TENANT, memory_id=again, actor="key:k1")
    )
    assert isinstance(done, DeletedMemory) and done.version_id == moved.memory_id
    chain = await versions(revisions, again)
    assert isinstance(chain, MemoryVersions)
    assert [(v.memory_id, v.replaced_by, v.erased) for v in chain.versions] == [
        (again, moved.memory_id, True),
        (moved.memory_id, None, True),
    ]


async def test_a_revision_and_a_deletion_of_one_memory_at_once_do_not_deadlock(log_pool):
    """Mem0's update and delete of one memory, interleaved in PostgreSQL: the revision holds
    the memory's key row (to seal its new version with it) while the deletion shreds it.
    Both take the row before they insert, so one waits for the other: no deadlock, and the
    memory ends deleted, no version's words readable."""
    revising, deleting = asyncio.Event(), asyncio.Event()

    class RevisionRing(KeyRing):
        async def memory_keys(self, conn, memories, lineage=None):  # type: ignore[no-untyped-def]
            made = await super().memory_keys(conn, memories, lineage)
            if memories:  # the key row held: let the deletion run into it
                revising.set()
                await asyncio.wait_for(deleting.wait(), 10)
                await asyncio.sleep(0.2)
            return made

    class DeletionRing(KeyRing):
        async def shred_memories(self, conn, memories):  # type: ignore[no-untyped-def]
            if memories:
                deleting.set()
            return await super().shred_memories(conn, memories)

    first = await recorded(EventStore(log_pool), "I live in Lisbon")
    reviser, deleter = EventStore(log_pool), EventStore(log_pool)
    reviser.keyring, deleter.keyring = RevisionRing(), DeletionRing()

    async def deletion():  # type: ignore[no-untyped-def]
        await revising.wait()
        return await IngestHandlers(deleter).delete_memory(
            DeleteMemory(tenant_id=TENANT, memory_id=first, actor="key:k1")
        )

    revised, deleted = await asyncio.gather(
        MemoryRevisions(reviser, lambda _text: []).revise(revise(first, "I live in Porto")),
        deletion(),
        return_exceptions=True,
    )
    assert isinstance(revised, RevisedMemory), revised
    assert isinstance(deleted, DeletedMemory), deleted
    assert deleted.version_id == revised.memory_id  # the deletion looked again
    readable, _ = await EventStore(log_pool).read_all()
    assert not [e for e in readable if isinstance(e.data, MemoryRecorded)]
