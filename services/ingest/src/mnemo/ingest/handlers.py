"""What ingest does for each command."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from mnemo.bus import Delivery, request_cause
from mnemo.chunking import chunk_text
from mnemo.contracts import (
    ChunkSpan,
    DeleteAgentMemories,
    DeletedMemories,
    DeletedMemory,
    DeleteMemory,
    DeleteScopeMemories,
    Envelope,
    EventData,
    ForgetResult,
    ForgetSubject,
    IngestMemory,
    MemoryDeleted,
    MemoryForgotten,
    MemoryRecorded,
    NewEvent,
    QueryError,
    derived_id,
    utcnow,
)
from mnemo.contracts.deadlines import ANSWER_BY
from mnemo.eventlog import NO_STREAM, EventStore, WrongExpectedVersion
from mnemo.eventlog.scopes import MemoryScope
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "ingest"


def memory_stream(tenant_id: str, memory_id: str) -> str:
    return f"memory-{tenant_id}-{memory_id}"


def subject_stream(tenant_id: str, user_id: str) -> str:
    return f"subject-{tenant_id}-{derived_id('subject', tenant_id, user_id)}"


def answering_event(
    event_id: str,
    tenant_id: str,
    actor: str,
    data: EventData,
    *,
    at: datetime | None = None,
    cause: tuple[str, str] | None = None,
) -> NewEvent:
    """An event written to answer the current request: caused as `request_cause` says,
    or as `cause` (one taken for several events)."""
    causation, correlation = cause or request_cause()
    return NewEvent(
        event_id=event_id,
        tenant_id=tenant_id,
        occurred_at=at or utcnow(),
        correlation_id=correlation,
        causation_id=causation,
        actor=actor,
        service=SERVICE,
        data=data,
    )


_AGAIN_ATTEMPTS = 5
# Seconds a deletion of an id not recorded yet waits for the memory commands accepted
# before it to be handled (within the asker's MNEMO_QUERY_TIMEOUT of 5 s).
_IN_FLIGHT_WAIT = 2.5


class _Head:
    """The command stream's head, asked for when a deletion is marked (`_delete`)."""


_HEAD = _Head()


def current_life(readable: list[Envelope]) -> list[Envelope]:
    """A memory stream's readable events from its last recording on: the memory as it is
    now. A memory deleted (or forgotten with its subject) and then recorded again under the
    same id (the same sourceId sent again) lives on in the same stream; what happened to
    an earlier recording is not this one's. Empty: no recording can be read."""
    starts = [i for i, e in enumerate(readable) if isinstance(e.data, MemoryRecorded)]
    return readable[starts[-1] :] if starts else []


def deletion(life: list[Envelope]) -> Envelope | None:
    """The `memory.deleted` that ended this life of the memory, if one did."""
    return next((e for e in life if isinstance(e.data, MemoryDeleted)), None)


def shredded_deletion(readable: list[Envelope]) -> Envelope | None:
    """The `memory.deleted` that ended a memory none of whose recordings can be read any
    more: its deletion shredded its key (or a revision's: the version it names was). None
    when a recording can be read, or when none can and no deletion ended them (its subject
    was forgotten)."""
    if not readable or any(isinstance(e.data, MemoryRecorded) for e in readable):
        return None
    last = readable[-1]
    return last if isinstance(last.data, MemoryDeleted) else None


def _gone(readable: list[Envelope]) -> bool | str:
    """Whether a memory stream's memory is gone: no recording of it can be read (its
    subject was forgotten since, or it was deleted and its key shredded), or its last
    recording was deleted without being revised into another memory. Revised: the id of
    the memory it lives on in (gone if that one is, which `_lives_on` follows)."""
    life = current_life(readable)
    if not life:
        ended = shredded_deletion(readable)
        if ended is not None and isinstance(ended.data, MemoryDeleted):
            return ended.data.replaced_by or True
        return True
    ended = deletion(life)
    if ended is None or not isinstance(ended.data, MemoryDeleted):
        return False
    return ended.data.replaced_by or True


class IngestHandlers:
    def __init__(
        self,
        store: EventStore,
        *,
        chunk_max: int = 1200,
        chunk_overlap: int = 200,
        command_stream: Callable[[], Awaitable[tuple[int, bool]]] | None = None,
        agents: Callable[[Sequence[IngestMemory], Sequence[int]], Awaitable[list[bool]]]
        | None = None,
        commands_read: Callable[[int], Awaitable[bool]] | None = None,
    ) -> None:
        self._store = store
        # Whether the memory commands accepted until now have all been handled (a deletion
        # of an id not recorded yet waits for them: it may be one still on its way).
        self._commands_read = commands_read
        # Which memory commands their agents let through (mnemo.ingest.accounts.agents_of).
        self._agents = agents
        # The command stream's head (where a forget marks its subject forgotten), and
        # whether that stream was made anew since the marks were counted (see bootstrap).
        self._command_stream = command_stream
        self._chunk_max = chunk_max
        self._chunk_overlap = chunk_overlap

    def chunks(self, content: str) -> list[ChunkSpan]:
        if len(content) <= self._chunk_max:
            return []  # one chunk, the whole content: nothing to record
        pieces = chunk_text(content, max_chars=self._chunk_max, overlap_chars=self._chunk_overlap)
        return [ChunkSpan(index=c.index, start=c.start, end=c.end) for c in pieces]

    async def ingest_memories(self, deliveries: list[Delivery]) -> None:
        """A fetched batch of commands in one append: each memory its own new stream. A
        memory whose stream exists (a repeat, or the same sourceId) is recorded again only
        if it is gone (`_record_again`)."""
        commands = [d.decode(IngestMemory) for d in deliveries]
        sequences = [d.stream_sequence for d in deliveries]
        kept = await self._agents(commands, sequences) if self._agents else [True] * len(commands)
        items = [
            (memory_stream(c.tenant_id, c.memory_id), self._recorded(d, c))
            for d, c, keep in zip(deliveries, commands, kept, strict=True)
            if keep
        ]
        sent_at = [d.stream_sequence for d, keep in zip(deliveries, kept, strict=True) if keep]
        # A command sent before its user was forgotten is dropped, however late it comes.
        stored = await self._store.append_first_events(items, sent_at=sent_at)
        written = {e.event_id for e in stored}
        again = 0
        for (stream, event), sent in zip(items, sent_at, strict=True):
            if event.event_id not in written:
                again += len(await self._record_again(stream, event, sent))
        log.info(
            "memories_recorded",
            count=len(stored) + again,
            again=again,
            skipped=len(items) - len(stored) - again,
        )

    async def ingest_memory(self, delivery: Delivery) -> None:
        """Append `memory.recorded` for the command; a repeat of it appends nothing."""
        command: IngestMemory = delivery.decode(IngestMemory)
        if (
            self._agents is not None
            and not (await self._agents([command], [delivery.stream_sequence]))[0]
        ):
            return
        event = self._recorded(delivery, command)
        stream = memory_stream(command.tenant_id, command.memory_id)
        try:
            stored = await self._store.append(
                stream, [event], expected_version=NO_STREAM, sent_at=[delivery.stream_sequence]
            )
        except WrongExpectedVersion:
            # Its id was used before (the same sourceId sent again, or this command again).
            stored = await self._record_again(stream, event, delivery.stream_sequence)
            if not stored:
                log.info("memory_already_recorded", memory_id=command.memory_id)
                return
        if not stored and await self._marks_stale():
            stored = await self._store.append(
                stream, [event], expected_version=NO_STREAM, sent_at=[delivery.stream_sequence]
            )
        if not stored:
            # Sent before its user was forgotten, or the retry of a forgotten memory.
            log.info("memory_forgotten_before_recorded", memory_id=command.memory_id)
            return
        log.info(
            "memory_recorded",
            memory_id=command.memory_id,
            event_id=stored[0].event_id,
            position=stored[0].global_position,
        )

    async def _marks_stale(self) -> bool:
        """Whether the forget marks that just dropped a command counted in another command
        stream (this one made anew since): then they are cleared, and the command is tried
        again. Asked only when a mark dropped one: rare."""
        if self._command_stream is None:
            return False
        return (await self._command_stream())[1]

    async def _record_again(self, stream: str, event: NewEvent, sent_at: int) -> list[Envelope]:
        """The memory's id was recorded before: its id is derived from a sourceId (or an
        ElizaOS memory id) sent again. While that memory is there, it is stored once and
        this command is done; once it is gone (deleted, or its subject forgotten since),
        this command records it again, at its stream's next version: the caller was
        answered 202 for it, and deleting or forgetting is no reason to drop what came after.
        A memory revised into another (`replaced_by`) lives on there: not recorded again.
        This very command redelivered finds its own event and writes nothing."""
        for _ in range(_AGAIN_ATTEMPTS):
            version = await self._store.stream_version(stream)
            readable = await self._store.read_stream(stream)
            if any(e.event_id == event.event_id for e in readable):
                return []
            gone = _gone(readable)
            memory_id = getattr(event.data, "memory_id", "")
            named = [memory_id]  # and the versions it was revised into
            if isinstance(gone, str):
                named.append(gone)
                gone = not await self._lives_on(event.tenant_id, gone, named)
            if not gone:
                return []
            marks = [await self._store.deleted_through(event.tenant_id, m) for m in named]
            if sent_at <= max(marks):
                if await self._marks_stale():
                    continue  # the mark counted in a command stream since made anew
                # Accepted before the memory was deleted, recorded after: the deletion came
                # later in the caller's order, and stands.
                log.info("memory_deleted_before_recorded_again", memory_id=memory_id)
                return []
            try:
                # Dropped still when the command was sent before its subject was forgotten.
                stored = await self._store.append(
                    stream, [event], expected_version=version, sent_at=[sent_at]
                )
                if not stored and await self._marks_stale():
                    continue  # the mark counted in a command stream since made anew
                return stored
            except WrongExpectedVersion:
                continue  # deleted or recorded meanwhile: look again
        raise RuntimeError(f"{stream} kept moving; the command will be delivered again")

    async def _lives_on(
        self, tenant_id: str, memory_id: str, chain: list[str] | None = None
    ) -> bool:
        """Whether the memory a revision made (and the ones made of it in turn) still is:
        a memory deleted by its last version is gone, whichever id it was first sent under.
        `chain`: the ids followed are added to it."""
        for _ in range(_AGAIN_ATTEMPTS * 4):
            gone = _gone(await self._store.read_stream(memory_stream(tenant_id, memory_id)))
            if not isinstance(gone, str):
                return not gone
            memory_id = gone
            if chain is not None:
                chain.append(memory_id)
        return True  # a chain this long: taken as living, nothing is recorded twice

    def _recorded(self, delivery: Delivery, command: IngestMemory) -> NewEvent:
        return NewEvent(
            # Derived from the command id: a redelivered command yields the same event id.
            event_id=derived_id(command.command_id, "memory.recorded"),
            tenant_id=command.tenant_id,
            occurred_at=command.occurred_at or command.issued_at,
            correlation_id=delivery.correlation_id,
            causation_id=command.command_id,
            actor=command.actor,
            service=SERVICE,
            data=MemoryRecorded(
                memory_id=command.memory_id,
                user_id=command.user_id,
                content=command.content,
                source_type=command.source_type,
                source_id=command.source_id,
                session_id=command.session_id,
                agent_id=command.agent_id,
                metadata=command.metadata,
                chunks=self.chunks(command.content),
                redactions=command.redactions,
                batch_id=command.batch_id,
                batch_user_items=command.batch_user_items,
            ),
        )

    async def forget(self, request: ForgetSubject) -> ForgetResult:
        """Shred the subject's keys and record that it was forgotten, in one transaction:
        once it commits, the subject's content in the log is unreadable and the read
        models are told; a failure leaves both undone (never shredded with no event to
        drop the subject's projections). Idempotent: a repeat removes nothing more.
        """
        # Every command accepted before this forget began is at or below the head: one
        # still on its way to the log is dropped when it arrives, not recorded anew.
        through = (await self._command_stream())[0] if self._command_stream else 0
        cause = request_cause()

        def forgotten(removed: dict[str, int], keys: int) -> NewEvent:
            return answering_event(
                derived_id(cause[0], "memory.forgotten"),
                request.tenant_id,
                request.actor,
                MemoryForgotten(user_id=request.user_id, removed=removed, keys=keys),
                cause=cause,
            )

        removed, stored = await self._store.forget_and_record(
            request.tenant_id,
            request.user_id,
            through,
            subject_stream(request.tenant_id, request.user_id),
            forgotten,
        )
        log.info("subject_forgotten", removed=removed)
        return ForgetResult(user_id=request.user_id, removed=removed, event_id=stored.event_id)

    async def delete_memory(self, request: DeleteMemory) -> DeletedMemory | QueryError:
        """Append `memory.deleted` to the memory's stream; a repeat finds it deleted and
        answers the same. A memory revised into another lives on there: that one is deleted
        (a revision landing while this deletion decides moves the stream, and the deletion
        looks again, so the two never both answer success with the new version alive).
        Another agent's memory (for an agent-scoped caller), or one that is unknown or
        unreadable (its subject forgotten), is not found."""
        return await self._delete(request, _HEAD)

    async def _recorded_soon(self, stream: str) -> bool:
        """Whether `stream` (a memory's) gets its first event before the memory commands
        accepted until now are all handled, waiting at most `_IN_FLIGHT_WAIT` seconds."""
        if self._commands_read is None or self._command_stream is None:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _IN_FLIGHT_WAIT
        try:
            # Those accepted before this deletion only: under a steady load the stream
            # always holds newer ones, which are not waited for.
            head = (await self._command_stream())[0]
            while True:
                done = await self._commands_read(head)
                if await self._store.stream_version(stream) >= 0:
                    return True
                if done or loop.time() >= deadline:
                    return False
                await asyncio.sleep(0.1)
        except Exception:  # the bus away: answered as before, not found
            return False

    async def _delete(
        self, request: DeleteMemory, through: int | _Head | None
    ) -> DeletedMemory | QueryError:
        """`delete_memory`, with the command stream's head to mark the deletion at
        (`_HEAD`: asked when needed), or None when a mark of the memory's scope made
        before covers it (an agent's memories being deleted)."""
        missing = QueryError(
            code="not_found", message=f"no memory {request.memory_id!r}", field="memoryId"
        )
        memory_id = request.memory_id
        waited = False
        for _ in range(_AGAIN_ATTEMPTS * 4):
            stream = memory_stream(request.tenant_id, memory_id)
            version = await self._store.stream_version(stream)
            readable = await self._store.read_stream(stream)
            life = current_life(readable)
            recorded = life[0] if life else None
            if recorded is None or not isinstance(recorded.data, MemoryRecorded):
                # Deleted before, its words shredded with it: a repeat answers the same.
                shredded = shredded_deletion(readable)
                if shredded is None or not isinstance(shredded.data, MemoryDeleted):
                    if version < 0 and not waited and memory_id == request.memory_id:
                        # Unknown yet: it may be one whose 202 was just given, its command
                        # still on its way (it was not found, and then recorded: a client
                        # deleting what it had just sent saw 404 and kept it).
                        waited = True
                        if await self._recorded_soon(stream):
                            continue
                    return missing
                ended = shredded.data
                if request.agent_id is not None and ended.agent_id != request.agent_id:
                    return missing
                if await self._store.forgotten_since(
                    request.tenant_id, ended.user_id, shredded.recorded_at
                ):
                    return missing  # nothing of a forgotten subject's memories is shown
                if ended.replaced_by:
                    memory_id = ended.replaced_by  # revised: it lived on there
                    continue
                return DeletedMemory(
                    memory_id=request.memory_id,
                    user_id=ended.user_id,
                    event_id=shredded.event_id,
                    version_id=memory_id if memory_id != request.memory_id else None,
                )
            memory = recorded.data
            if request.agent_id is not None and memory.agent_id != request.agent_id:
                return missing
            done = deletion(life)
            if done is not None:
                assert isinstance(done.data, MemoryDeleted)
                if done.data.replaced_by:
                    memory_id = done.data.replaced_by  # revised: it lives on there
                    continue
                return DeletedMemory(
                    memory_id=request.memory_id,
                    user_id=memory.user_id,
                    event_id=done.event_id,
                    version_id=memory_id if memory_id != request.memory_id else None,
                )
            if self._command_stream is not None and through is not None:
                # Before the deletion: a command naming the memory sent until now and
                # recorded later (a backlog) does not bring it back (`_record_again`).
                if isinstance(through, _Head):
                    through = (await self._command_stream())[0]
                await self._store.mark_deleted(
                    request.tenant_id, sorted({request.memory_id, memory_id}), through
                )
            event = answering_event(
                derived_id(recorded.event_id, "memory.deleted"),
                request.tenant_id,
                request.actor,
                MemoryDeleted(
                    memory_id=memory_id, user_id=memory.user_id, agent_id=memory.agent_id
                ),
            )
            try:
                [stored] = await self._store.append(stream, [event], expected_version=version)
            except WrongExpectedVersion:
                continue  # revised or deleted meanwhile: look again
            log.info("memory_deleted", memory_id=memory_id, event_id=stored.event_id)
            return DeletedMemory(
                memory_id=request.memory_id,
                user_id=memory.user_id,
                event_id=stored.event_id,
                version_id=memory_id if memory_id != request.memory_id else None,
            )
        raise RuntimeError(f"memory {request.memory_id} kept changing; delete it again")

    async def delete_agent_memories(self, request: DeleteAgentMemories) -> DeletedMemories:
        """Delete the agent's memories named (a read model listed them), or, with none
        named, up to `most` of those the log holds for it (with `user_id`, of that user):
        each a `memory.deleted`, as `delete_memory` does. One the log holds is found
        whether or not a read model has it yet."""
        most = max(1, min(request.most, 1000))
        if request.memory_ids is not None:
            ids, more = request.memory_ids[:most], len(request.memory_ids) > most
        else:
            if self._command_stream is not None:
                # Before looking: a memory command of the agent (and user) accepted until
                # now and recorded later is dropped, and one being recorded is waited for.
                through = (await self._command_stream())[0]
                await self._store.clear_scope(
                    request.tenant_id, request.agent_id, request.user_id, through
                )
            found = await self._store.agent_memories(
                request.tenant_id, request.agent_id, user_id=request.user_id, limit=most + 1
            )
            ids, more = found[:most], len(found) > most
        # Found in the log: the scope's mark above covers them. Named: each is marked, at
        # the head read once for them all.
        mark_at: int | None = None
        if request.memory_ids is not None and self._command_stream is not None:
            mark_at = (await self._command_stream())[0]
        deleted = await self._delete_each(request, ids, mark_at, stop_early=True)
        # Cut short to answer in time (a loaded machine): the asker asks again for the rest.
        return DeletedMemories(deleted=deleted, more=more or len(deleted) < len(ids))

    async def delete_scope_memories(self, request: DeleteScopeMemories) -> DeletedMemories:
        """Delete the memories the log holds of the scope (a user, agent and session, and
        what their metadata holds), up to `most` looked at after log position `after`:
        each a `memory.deleted`, as `delete_memory` does, whether or not a read model has
        it yet. The first call (`after` None) marks the command stream first: a memory
        command of the scope accepted until now and recorded later is dropped, and one
        being recorded is waited for, so that the look in the log finds it."""
        scope = MemoryScope(
            tenant_id=request.tenant_id,
            user_id=request.user_id,
            agent_id=request.agent_id,
            session_id=request.session_id,
            metadata=tuple((tuple(m.path), m.value) for m in request.metadata),
        )
        if scope.user_id is None and scope.agent_id is None and scope.session_id is None:
            return DeletedMemories(deleted=[])
        through = None
        if self._command_stream is not None:
            through = (await self._command_stream())[0]
            if request.after is None:
                await self._store.mark_scope(scope, through)
        most = max(1, min(request.most, 1000))
        after = request.after or 0
        looked, reached, more = await self._store.scope_memories(scope, after=after, limit=most)
        held = [e for e in looked if scope.holds(e.data)]
        ids = [getattr(e.data, "memory_id", "") for e in held]
        # Each is marked too: the scope's mark covers a command of the memory sent again
        # with the scope's metadata, not one with other metadata or another session.
        deleted, tried = await self._delete_until(
            request.tenant_id, request.agent_id, request.actor, ids, through, stop_early=True
        )
        if tried < len(ids):
            # Cut short to answer in time: the asker goes on after the last one tried.
            last = held[tried - 1].global_position
            return DeletedMemories(deleted=deleted, more=True, after=last)
        return DeletedMemories(deleted=deleted, more=more, after=reached)

    async def sweep_agent(
        self, tenant_id: str, agent_id: str, actor: str, before: int | None
    ) -> int:
        """Delete every memory the log holds for a deleted agent, recorded before `before`
        (where the id became an agent again, if it did); how many."""
        request = DeleteAgentMemories(tenant_id=tenant_id, agent_id=agent_id, actor=actor)
        deleted = 0
        while True:
            ids = await self._store.agent_memories(tenant_id, agent_id, before=before, limit=100)
            # The agent's deletion mark covers every command of it accepted before.
            done = await self._delete_each(request, ids, None)
            deleted += len(done)
            if not done:
                return deleted

    async def _delete_each(
        self,
        request: DeleteAgentMemories,
        ids: Sequence[str],
        through: int | None,
        *,
        stop_early: bool = False,
    ) -> list[DeletedMemory]:
        """Delete each (an unknown one is passed over), marked at `through` (`_delete`);
        `stop_early`: stop at half of the time the asker still waits, so that what is done
        is answered in time."""
        deleted, _ = await self._delete_until(
            request.tenant_id, request.agent_id, request.actor, ids, through, stop_early
        )
        return deleted

    async def _delete_until(
        self,
        tenant_id: str,
        agent_id: str | None,
        actor: str,
        ids: Sequence[str],
        through: int | None,
        stop_early: bool,
    ) -> tuple[list[DeletedMemory], int]:
        """`_delete_each` (with `agent_id`, a memory of another agent is passed over too),
        and how many of `ids` it went through before it stopped."""
        by = ANSWER_BY.get() if stop_early else None
        stop = None if by is None else time.monotonic() + (by - time.monotonic()) / 2
        deleted: list[DeletedMemory] = []
        for tried, memory_id in enumerate(ids):
            if stop is not None and deleted and time.monotonic() > stop:
                return deleted, tried
            done = await self._delete(
                DeleteMemory(
                    tenant_id=tenant_id, memory_id=memory_id, agent_id=agent_id, actor=actor
                ),
                through,
            )
            if isinstance(done, DeletedMemory):
                deleted.append(done)
        return deleted, len(ids)
