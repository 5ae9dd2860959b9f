"""What retrieval does: index each recorded memory (then say so), answer searches."""

import asyncio
import zlib
from datetime import datetime

import msgspec

from mnemo.bus import Delivery, Publisher, envelope_context
from mnemo.contracts import (
    MEMORIES_INDEXED,
    DeleteMemory,
    DropMemories,
    Dropped,
    Envelope,
    ForgetSubject,
    GetMemoryQuery,
    IndexedMemory,
    ListMemoriesQuery,
    MemoriesIndexed,
    MemoryDeleted,
    MemoryForgotten,
    MemoryPage,
    MemoryRecorded,
    MemorySynthesized,
    MemoryView,
    QueryError,
    SearchQuery,
    SearchResult,
    Signal,
    derived_id,
    utcnow,
)
from mnemo.eventlog import CoalescedCompaction, EventStore, silenced_by, worth_compacting
from mnemo.retrieval.index import MemoryIndex
from mnemo.retrieval.memories import MemoryTable
from mnemo.telemetry import get_logger, traceparent_for

log = get_logger(__name__)
_encoder = msgspec.json.Encoder()

SERVICE = "retrieval"
# MEMANTO's recall returns up to 100 (its lists' maximum); the native search caps at 50.
MAX_LIMIT = 100

# The most a page of memories may take as one reply (compressed, as the bus sends a long
# one), under NATS' default max_payload (1 MiB) with room for the headers.
PAGE_BYTES = 768 * 1024
# How long the compaction after deletions waits for the vector store's copy.
COMPACTION_WAIT_S = 900.0


async def drop_memory(
    index: MemoryIndex, memories: MemoryTable, log_store: EventStore, tenant_id: str, memory_id: str
) -> None:
    """Drop one memory from both projections (a repeat drops nothing more), then index the
    next turn of its session again: its indexed text held the dropped one as context."""
    following = await memories.following(tenant_id, memory_id)
    await memories.delete(tenant_id, memory_id)
    await index.delete(tenant_id, memory_id)
    if following is not None:
        batch, _ = await log_store.read_all(after=following - 1, limit=1)
        await index.index_all(
            [
                e
                for e in batch
                if e.global_position == following and isinstance(e.data, MemoryRecorded)
            ]
        )


async def index_recorded(
    index: MemoryIndex, memories: MemoryTable, log_store: EventStore, envelopes: list[Envelope]
) -> None:
    """Record and index the memories, then index again each turn that follows one of them
    in its session and was there before it: sent at once (batches in parallel), a reply
    can reach the log before the turn it answers, and was indexed without it as context."""
    await memories.record_all(envelopes)
    await index.index_all(envelopes)
    here = {e.data.memory_id for e in envelopes if isinstance(e.data, MemoryRecorded)}
    late = sorted({p for m, p in (await memories.followers(envelopes)).items() if m not in here})
    again: list[Envelope] = []
    for position in late:
        batch, _ = await log_store.read_all(after=position - 1, limit=1)
        again += [
            e for e in batch if e.global_position == position and isinstance(e.data, MemoryRecorded)
        ]
    if again:
        await index.index_all(again)
        log.info("memories_indexed_again_with_their_preceding_turn", count=len(again))


class RetrievalHandlers:
    def __init__(
        self,
        index: MemoryIndex,
        memories: MemoryTable,
        publisher: Publisher,
        log_store: EventStore,
        page_bytes: int = PAGE_BYTES,
    ) -> None:
        # After deletions: the tables rewritten and the vector store compacted, coalesced
        # (one of each per few seconds at most, a burst of deletions or not).
        self.compaction = CoalescedCompaction(self._compact_after_deletions)
        self._index = index
        self._memories = memories
        self._publisher = publisher
        self._log = log_store
        # What a page of memories may take as one reply (`fitted`).
        self._page_bytes = page_bytes

    async def memory_recorded(self, delivery: Delivery) -> None:
        await self.memories_recorded([delivery])

    async def memories_recorded(self, deliveries: list[Delivery]) -> None:
        """Apply the events in order: runs of recorded memories are indexed together, and a
        forgotten subject is dropped exactly where it falls in the stream."""
        run: list[Envelope] = []
        synthesized: list[tuple[str, str]] = []
        for envelope in (d.decode(Envelope) for d in deliveries):
            if isinstance(envelope.data, MemoryRecorded):
                run.append(envelope)
            elif isinstance(envelope.data, MemorySynthesized):
                # Marked once the batch's memories are in (it comes after its memory).
                synthesized.append((envelope.tenant_id, envelope.data.memory_id))
            elif isinstance(envelope.data, MemoryForgotten):
                await self._index_run(run)
                run = []
                await self._forget(envelope)
            elif isinstance(envelope.data, MemoryDeleted):
                await self._index_run(run)
                run = []
                await self.delete(envelope)
        await self._index_run(run)
        await self._memories.mark_synthesized(synthesized)

    async def delete(self, envelope: Envelope) -> None:
        """Drop one memory from both projections (a repeat drops nothing more)."""
        assert isinstance(envelope.data, MemoryDeleted)
        await drop_memory(
            self._index, self._memories, self._log, envelope.tenant_id, envelope.data.memory_id
        )
        with envelope_context(envelope):
            log.info("memory_dropped_from_projections", memory_id=envelope.data.memory_id)
        if not envelope.data.replaced_by:  # a revision's new version holds the old words
            self.compaction.due()

    async def _compact_after_deletions(self) -> None:
        await self._memories.compact()
        # Waited for, so the spacing counts the copy; one that keeps failing is given up
        # on after a while and asked again (the coalescer retries).
        await asyncio.wait_for(self._index.compacted(), COMPACTION_WAIT_S)

    async def drop_subject(self, query: ForgetSubject) -> Dropped:
        """Asked by the gateway once ingest has forgotten the subject, so that no read after
        the forget's answer sees it; `memory.forgotten` does it again when it arrives (a
        repeat drops nothing) and then compacts."""
        removed = await self._memories.forget(query.tenant_id, query.user_id)
        await self._index.forget(query.tenant_id, query.user_id)
        return Dropped(removed=removed)

    async def drop_memory(self, query: DeleteMemory) -> Dropped:
        """Asked by the gateway once ingest has deleted the memory (reads after the delete).
        A revision's successor is indexed first, from the log: a search after the answer
        finds the new words, and none in between finds neither version."""
        if query.successor_event_id is not None:
            successor = await self._log.get(query.successor_event_id)
            if (
                successor is not None
                and successor.tenant_id == query.tenant_id
                and isinstance(successor.data, MemoryRecorded)
            ):
                await self._index_run([successor])
        await drop_memory(self._index, self._memories, self._log, query.tenant_id, query.memory_id)
        return Dropped(removed=1)

    async def drop_memories(self, query: DropMemories) -> Dropped:
        """Asked by the gateway once ingest has deleted the memories (reads after the
        delete); each `memory.deleted` drops its memory again when it arrives."""
        for memory_id in query.memory_ids:
            await drop_memory(self._index, self._memories, self._log, query.tenant_id, memory_id)
        return Dropped(removed=len(query.memory_ids))

    async def _forget(self, envelope: Envelope) -> None:
        assert isinstance(envelope.data, MemoryForgotten)
        removed = await self._memories.forget(envelope.tenant_id, envelope.data.user_id)
        await self._index.forget(envelope.tenant_id, envelope.data.user_id)
        # The gateway had the rows dropped already (`drop_subject`): what the forget
        # silenced in the log says whether there were any.
        if worth_compacting(silenced_by(envelope.data), removed):
            await self._memories.compact()
        # Beside the consumer, which goes on indexing (a copy takes seconds): not waited for.
        self._index.compact_soon()
        log.info("subject_dropped_from_projections", memories=removed)

    async def _index_run(self, envelopes: list[Envelope]) -> None:
        """Index the memories, then say so: the signal makes "searchable" visible in the audit."""
        envelopes = await self._current(envelopes)
        if not envelopes:
            return
        await index_recorded(self._index, self._memories, self._log, envelopes)
        now = utcnow()
        await self._publisher.publish_signals(indexed_signals(envelopes, now))
        log.info("memories_indexed", count=len(envelopes))

    async def _current(self, envelopes: list[Envelope]) -> list[Envelope]:
        """The recordings that the log still holds as they are, asked once for the run.

        A recording reaches retrieval late (a backlog) after what the log has done with its
        memory since: its user forgotten, or the memory deleted (one memory, an agent's, a
        scope's), with the gateway's drop (before the answer) finding nothing here yet.
        Projected, it would show until the `memory.forgotten` or `memory.deleted` after it
        comes by. Such a recording is skipped (no row, no points, no `memory.indexed`: it
        never became searchable). A revised one is replaced by the recording of its next
        version, as the gateway's drop does (its own recording, later in the stream,
        indexes it again): a backlog shows the new words, never neither version."""
        current: dict[str, Envelope] = {}
        asked = [e for e in envelopes if isinstance(e.data, MemoryRecorded)]
        seen = {e.event_id for e in asked}
        while asked:
            ended = await self._log.ended([e.event_id for e in asked])
            if ended.forgotten:
                # Recorded before its user was forgotten, delivered after the gateway had
                # the read models drop the user.
                log.info("memories_forgotten_before_indexed", count=len(ended.forgotten))
            if ended.deleted:
                log.info(
                    "memories_deleted_before_indexed",
                    count=len(ended.deleted),
                    revised=len(ended.successors),
                )
            skipped = ended.forgotten | ended.deleted
            for envelope in asked:
                if envelope.event_id not in skipped:
                    current.setdefault(envelope.event_id, envelope)
            # A chain of revisions is followed to its end (each step a revision's append).
            successors = [s for s in ended.successors.values() if s not in seen]
            seen.update(successors)
            asked = [
                e
                for e in await self._log.read_events(successors)
                if isinstance(e.data, MemoryRecorded)
            ]
        return list(current.values())

    async def list_memories(self, query: ListMemoriesQuery) -> MemoryPage | QueryError:
        if query.user_id is None and query.agent_id is None and query.session_id is None:
            return _unscoped()
        if not 1 <= query.limit <= 100:
            return QueryError(code="invalid", message="limit must be 1..100", field="limit")
        if query.offset < 0:
            return QueryError(code="invalid", message="offset must be >= 0", field="offset")
        return fitted(await self._memories.page(query), self._page_bytes)

    async def get_memory(self, query: GetMemoryQuery) -> MemoryView | QueryError:
        found = await self._memories.get(query)
        if found is None:
            return QueryError(code="not_found", message=f"no memory {query.memory_id!r}")
        return found

    async def search(self, query: SearchQuery) -> SearchResult | QueryError:
        if query.user_id is None and query.agent_id is None and query.session_id is None:
            return _unscoped()
        if not 1 <= query.limit <= MAX_LIMIT:
            return QueryError(
                code="invalid", message=f"limit must be 1..{MAX_LIMIT}", field="limit"
            )
        return SearchResult(results=await self._index.search(query))


def fitted(page: MemoryPage, budget: int = PAGE_BYTES) -> MemoryPage:
    """The page, or as many of its first memories as one reply holds: a memory may be
    100 KB (more once redacted), so a page of them may not fit in one message, and its
    asker learns it has fewer than it asked for (`total` says how many there are; the
    next page starts after the last one given). The cut is estimated from each memory's
    encoded size and the page's compression ratio (one compression of the page), then
    checked once."""
    if len(page.memories) <= 1:
        return page
    raw = _encoder.encode(page)
    if len(raw) <= budget:
        return page
    whole = len(zlib.compress(raw, 1))
    if whole <= budget:
        return page
    sizes = [len(_encoder.encode(m)) for m in page.memories]
    room = budget * len(raw) / whole * 0.9  # encoded bytes that compress into the budget
    total, count = len(raw) - sum(sizes), 0
    for size in sizes:
        if count and total + size > room:
            break
        total, count = total + size, count + 1
    cut = msgspec.structs.replace(page, memories=page.memories[:count])
    while count > 1 and len(zlib.compress(_encoder.encode(cut), 1)) > budget:
        count = max(1, count * 4 // 5)
        cut = msgspec.structs.replace(page, memories=page.memories[:count])
    log.info("memory_page_cut_to_fit", asked=len(page.memories), given=count)
    return cut


def page_budget(max_payload: int) -> int:
    """What a page of memories may take as one reply, under the server's max_payload."""
    return max(64 * 1024, min(PAGE_BYTES, max_payload * 3 // 4))


def _unscoped() -> QueryError:
    # Without one, a query would reach every memory of the tenant at once (a session is
    # one conversation: narrow enough).
    return QueryError(
        code="invalid", message="userId, agentId or sessionId is required", field="userId"
    )


def indexed_signals(envelopes: list[Envelope], now: datetime) -> list[Signal]:
    """One `memories.indexed` signal per tenant of an indexed batch, naming each memory
    with its request's ids (the audit records each as that request's `memory.indexed`
    step): a message per batch instead of one per memory, each of which cost a publish,
    its ack, and an audit delivery with its own ack."""
    by_tenant: dict[str, list[Envelope]] = {}
    for envelope in envelopes:
        by_tenant.setdefault(envelope.tenant_id, []).append(envelope)
    return [indexed_signal(tenant, batch, now) for tenant, batch in by_tenant.items()]


def indexed_signal(tenant_id: str, envelopes: list[Envelope], now: datetime) -> Signal:
    memories = []
    for envelope in envelopes:
        assert isinstance(envelope.data, MemoryRecorded)
        memories.append(
            IndexedMemory(
                memory_id=envelope.data.memory_id,
                event_id=envelope.event_id,
                correlation_id=envelope.correlation_id,
                traceparent=traceparent_for(envelope.event_id),
                lag_ms=int((now - envelope.recorded_at).total_seconds() * 1000),
            )
        )
    signal_id = derived_id(*(m.event_id for m in memories), MEMORIES_INDEXED)
    # The message's own ids: those of its request when the batch is one request's (its
    # first memory then continues that request's trace), else its own (a step of its own).
    shared = {m.correlation_id for m in memories}
    one_request = len(shared) == 1
    return Signal(
        signal_id=signal_id,
        signal_type=MEMORIES_INDEXED,
        tenant_id=tenant_id,
        service=SERVICE,
        occurred_at=now,
        correlation_id=shared.pop() if one_request else signal_id,
        causation_id=memories[0].event_id if one_request else signal_id,
        data=msgspec.to_builtins(MemoriesIndexed(memories=memories)),
    )
