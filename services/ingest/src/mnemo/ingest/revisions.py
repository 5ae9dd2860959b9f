"""Revising a memory (a new version, the old one deleted with a link to it) and reading a
memory's versions back from the log (see mnemo.contracts.revisions).

Both are request/reply, so that when the answer comes the log already holds what it
says: a revision is readable through `memory_versions` at once, before any projection
has caught up.
"""

from collections.abc import Callable

from mnemo.contracts import (
    MAX_REVISIONS,
    ChunkSpan,
    Envelope,
    MemoryDeleted,
    MemoryRecorded,
    MemoryVersion,
    MemoryVersions,
    MemoryVersionsQuery,
    NewEvent,
    QueryError,
    RevisedMemory,
    ReviseMemory,
    derived_id,
    utcnow,
)
from mnemo.eventlog import NO_STREAM, EventStore, SubjectKeyChanged, WrongExpectedVersion
from mnemo.ingest.handlers import (
    answering_event,
    current_life,
    deletion,
    memory_stream,
    request_cause,
    shredded_deletion,
)
from mnemo.telemetry import get_logger

log = get_logger(__name__)


def _missing(memory_id: str) -> QueryError:
    return QueryError(code="not_found", message=f"no memory {memory_id!r}", field="memoryId")


class MemoryRevisions:
    def __init__(self, store: EventStore, chunks: Callable[[str], list[ChunkSpan]]) -> None:
        self._store = store
        self._chunks = chunks

    async def revise(self, request: ReviseMemory) -> RevisedMemory | QueryError:
        """Record the successor and end the current version (naming its successor), in one
        append.

        The end is written at the stream version just read: of two revisions of one
        version, one wins and the other is a conflict, and no version is left orphaned."""
        old = memory_stream(request.tenant_id, request.memory_id)
        events = current_life(await self._store.read_stream(old))
        recorded = _recorded(events)
        if recorded is None or not _reaches(recorded, request.agent_id):
            return _missing(request.memory_id)
        memory = recorded.data
        assert isinstance(memory, MemoryRecorded)
        # The append holds the key the memory was read under: a forget meanwhile makes the
        # revision not found, rather than the new words sealed under the subject's next key.
        key_id = await self._store.sealed_key(recorded.event_id)
        revision = request.revision
        ended = deletion(events)
        gone = ended.data if ended is not None else None
        assert gone is None or isinstance(gone, MemoryDeleted)
        if gone is not None and gone.replaced_by != revision.memory_id:
            return QueryError(
                code="conflict",
                message=f"memory {request.memory_id!r} was deleted or revised meanwhile",
                field="memoryId",
            )
        now, cause = utcnow(), request_cause()

        def event(event_id: str, data: MemoryDeleted | MemoryRecorded) -> NewEvent:
            return answering_event(
                event_id, request.tenant_id, request.actor, data, at=now, cause=cause
            )

        # Ids from the revision: its retry appends nothing new, another revision conflicts.
        deleted = event(
            derived_id(revision.command_id, "memory.deleted"),
            MemoryDeleted(
                memory_id=memory.memory_id,
                user_id=memory.user_id,
                agent_id=memory.agent_id,
                replaced_by=revision.memory_id,
            ),
        )
        successor = event(
            derived_id(revision.command_id, "memory.recorded"),
            MemoryRecorded(
                memory_id=revision.memory_id,
                # The version belongs where the first one did, whatever the command says.
                user_id=memory.user_id,
                content=revision.content,
                source_type=memory.source_type,
                session_id=memory.session_id,
                agent_id=memory.agent_id,
                metadata=revision.metadata,
                chunks=self._chunks(revision.content),
                redactions=revision.redactions,
            ),
        )
        # One append: the old version ends and the new one begins together or not at all
        # (a failure between two appends left the memory deleted with no successor). The
        # new one goes first: a consumer that takes the append in two batches shows both
        # versions for a moment, never neither. The old end is stored already
        # when this is a retry, or a revision interrupted between two appends (before they
        # were one): then the successor is appended alone (a retry's is stored too).
        new = (memory_stream(request.tenant_id, revision.memory_id), [successor], NO_STREAM)
        ending = [] if ended is not None else [(old, [deleted], events[-1].stream_version)]
        try:
            # A retry's events are stored already: the store answers them, whatever the
            # versions say.
            written = await self._store.append_streams([new, *ending], sealed_with=key_id)
        except SubjectKeyChanged:
            return _missing(request.memory_id)
        except WrongExpectedVersion:
            return QueryError(
                code="conflict",
                message=f"memory {request.memory_id!r} changed meanwhile; read it and try again",
                field="memoryId",
            )
        made = written[0][0]
        ended = ended or written[1][0]
        log.info("memory_revised", memory_id=memory.memory_id, revision=revision.memory_id)
        return RevisedMemory(
            memory_id=revision.memory_id,
            replaced=memory.memory_id,
            user_id=memory.user_id,
            event_ids=[ended.event_id, made.event_id],
        )

    async def versions(self, query: MemoryVersionsQuery) -> MemoryVersions | QueryError:
        """Follow the memory's `replaced_by` links through the log, from `memory_id` on."""
        found: list[MemoryVersion] = []
        memory_id: str | None = query.memory_id
        while memory_id is not None and len(found) < MAX_REVISIONS:
            stream = memory_stream(query.tenant_id, memory_id)
            readable = await self._store.read_stream(stream)
            events = current_life(readable)
            recorded = _recorded(events)
            if recorded is None:
                # Deleted with its words (its key shredded): what the log keeps in clear.
                erased = await self._erased(query, stream, readable)
                if erased is None:
                    break  # unknown, or unreadable (its subject forgotten)
                found.append(erased)
                memory_id = erased.replaced_by
                continue
            if not _reaches(recorded, query.agent_id):
                break  # not the caller's
            if query.since is not None and recorded.recorded_at < query.since:
                break  # recorded before the caller's agent was made: another agent's
            memory = recorded.data
            assert isinstance(memory, MemoryRecorded)
            gone = deletion(events)
            replaced_by = (
                gone.data.replaced_by if gone and isinstance(gone.data, MemoryDeleted) else None
            )
            found.append(
                MemoryVersion(
                    memory_id=memory.memory_id,
                    user_id=memory.user_id,
                    content=memory.content,
                    source_type=memory.source_type,
                    session_id=memory.session_id,
                    agent_id=memory.agent_id,
                    metadata=memory.metadata,
                    occurred_at=recorded.occurred_at,
                    recorded_at=recorded.recorded_at,
                    recorded_by=recorded.actor,
                    deleted_at=gone.recorded_at if gone else None,
                    deleted_by=gone.actor if gone else None,
                    replaced_by=replaced_by,
                )
            )
            memory_id = replaced_by
        if not found:
            return _missing(query.memory_id)
        return MemoryVersions(versions=found)

    async def _erased(
        self, query: MemoryVersionsQuery, stream: str, readable: list[Envelope]
    ) -> MemoryVersion | None:
        """A version whose deletion shredded its words: its ids, times and who from what
        the log keeps in clear; None when it is not the caller's, not deleted (its subject
        forgotten), or its subject was forgotten since the deletion."""
        if shredded_deletion(readable) is None:
            return None  # a recording readable, or none deleted: its subject forgotten
        last = await self._store.erased_recording(stream)
        if last is None:
            return None
        version, occurred_at, recorded_at, recorded_by = last
        # The deletion that ended that recording's life (a revision's, when it was revised,
        # even if a deletion racing it appended another after it).
        gone = next(
            (
                e
                for e in readable
                if isinstance(e.data, MemoryDeleted) and e.stream_version > version
            ),
            None,
        )
        if gone is None or not isinstance(gone.data, MemoryDeleted):
            return None
        ended = gone.data
        if query.agent_id is not None and ended.agent_id != query.agent_id:
            return None
        if query.since is not None and recorded_at < query.since:
            return None  # recorded before the caller's agent was made: another agent's
        if await self._store.forgotten_since(query.tenant_id, ended.user_id, gone.recorded_at):
            return None  # nothing of a forgotten subject's memories is shown
        return MemoryVersion(
            memory_id=ended.memory_id,
            user_id=ended.user_id,
            content="",
            source_type="",
            session_id=None,
            agent_id=ended.agent_id,
            metadata={},
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            recorded_by=recorded_by,
            deleted_at=gone.recorded_at,
            deleted_by=gone.actor,
            replaced_by=ended.replaced_by,
            erased=True,
        )


def _recorded(events: list[Envelope]) -> Envelope | None:
    return next((e for e in events if isinstance(e.data, MemoryRecorded)), None)


def _reaches(recorded: Envelope, agent_id: str | None) -> bool:
    assert isinstance(recorded.data, MemoryRecorded)
    return agent_id is None or recorded.data.agent_id == agent_id
