"""The search projection of recorded memories: one point per chunk, with a dense vector
from the embedder and a BM25-style sparse vector, in whichever `VectorStore` is configured.

With a `DensePending` list, indexing has two phases. Phase 1 (`index_all`, before the
event is acknowledged) stores each chunk with its sparse vector and payload only: cheap,
and the memory is searchable by keyword (and by hybrid, through its sparse side) at once.
Phase 2 (`embed_pending`, run by `run_dense` in the background) embeds the pending chunks
in large batches and gives their points the dense vector; until then a vector search
does not see them. Without the list, `index_all` embeds first and stores both at once.

A point's payload holds nothing of what was said (ids, filter fields, timestamps, the
chunk's offsets): a search reads its hits' words and metadata from the memories read model
(see contents.py), which is written before the points are.
"""

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from mnemo.contracts import Envelope, MemoryRecorded, SearchHit, SearchQuery, derived_id
from mnemo.embeddings import Embedder, is_local
from mnemo.retrieval import dates, fusion
from mnemo.retrieval.contents import MemoryContents, MemoryText
from mnemo.retrieval.pending import DensePending, PendingChunk
from mnemo.retrieval.stores import (
    SparseEncoder,
    SparseVector,
    StoreFilter,
    StoreHit,
    StorePoint,
    VectorStore,
)
from mnemo.retrieval.turns import PrecedingTurns, Turn
from mnemo.telemetry import background_phase, get_logger, traceparent_for

log = get_logger(__name__)

# Recognised metadata that names a memory is searchable along with its words.
SEARCHABLE_METADATA = ("title", "author", "actionType", "resourceType")

# Query-time session expansion: the search goes `EXPAND_DEPTH` deep, and the best other
# turns of the top few hits' sessions found there join the list just after its head.
# Evidence for one question often sits in several turns of one session, of which the
# global ranking puts one on top (LoCoMo, 5 dev conversations, bench/locomo.py: all@10
# 0.627 -> 0.68). Taking them from one deeper search, rather than searching each session
# again, found as much (bench/locomo_inprocess.py: 0.730 -> 0.740) at a quarter of the cost.
EXPAND_SEEDS = 3  # hits whose sessions lend turns (0: no expansion)
EXPAND_PER_SEED = 3  # turns each of those sessions adds
EXPAND_AT = 7  # rank after which they are inserted
EXPAND_DEPTH = 40  # how deep the search looks for them

# Query-time date spans (dates.py): a query naming a date has what happened then fused in.
DATE_SPANS = True


# Phase 2 embeds this many chunks at once: onnxruntime MiniLM gives ~350 sentences/s at
# 128 against ~190 one at a time (bench/embeddings.py), and the embedder pads per batch.
DENSE_BATCH = 128
# Phase 2 looks for work this often when nothing wakes it (work left by a crash, or by
# another replica).
DENSE_IDLE_S = 1.0
# A failed compaction of the store is tried again after this long (seconds).
COMPACT_RETRY_S = 5.0


# Names what `sparse_text` and `dense_text` make of a memory; a change means the index must
# be rebuilt (bootstrap.open_index re-indexes from the log when it differs). text3: the
# preceding turn is only ever the same agent's (turns.py); text2's could be another's.
INDEXED_TEXT_VERSION = "text3-prev-same-agent"


@dataclass(frozen=True, slots=True)
class ChunkContext:
    """What a chunk is indexed by, before each side of the index makes its text of it."""

    # The metadata that names the memory (`SEARCHABLE_METADATA`), and its role when it has
    # no author.
    names: tuple[str, ...]
    speaker: str | None  # who said it: its author, else its role
    when: str  # the day it happened ("8 May 2023")
    words: str  # the chunk's own words
    before: Turn | None  # the turn before it in its session


def chunk_context(
    envelope: Envelope, memory: MemoryRecorded, text: str, before: Turn | None = None
) -> ChunkContext:
    """The pieces both sides' texts are made of, for one chunk (`text`) of the memory."""
    meta = memory.metadata
    names = [str(meta[k]) for k in SEARCHABLE_METADATA if meta.get(k)]
    if meta.get("role") and not meta.get("author"):
        names.append(str(meta["role"]))
    speaker = meta.get("author") or meta.get("role")
    when = envelope.occurred_at
    return ChunkContext(
        names=tuple(names),
        speaker=str(speaker) if speaker else None,
        when=f"{when.day} {when:%B %Y}",
        words=text,
        before=before,
    )


def sparse_text(chunk: ChunkContext) -> str:
    """What the sparse (keyword) vector is made of: the chunk's words, headed by its context
    (what names the memory, who said it and when it happened) and followed by the turn
    before it in its session, if any."""
    indexed = " ".join((*chunk.names, chunk.when)) + "\n" + chunk.words
    return indexed + "\n" + chunk.before.as_context() if chunk.before else indexed


def dense_text(chunk: ChunkContext) -> str:
    """What the dense vector is made of: the sparse side's text. A shorter one embeds
    faster (MiniLM's CPU time follows the word pieces), but each one tried lost recall
    (LoCoMo dev, in process, bench/dense_text.py: all@10 0.741): without the names and date
    0.734 for 11% fewer word pieces; the previous turn's last sentence for its end 0.722
    (37% fewer); no previous turn 0.720 (43%); the speaker and the words alone 0.707 (54%).
    """
    return sparse_text(chunk)


class MemoryIndex:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse: SparseEncoder,
        memories: MemoryContents,
        *,
        turns: PrecedingTurns | None = None,
        pending: DensePending | None = None,
        background: Callable[[], Embedder] | None = None,
        dense_text: Callable[[ChunkContext], str] = dense_text,
    ) -> None:
        self._store = store
        self._embedder = embedder
        # Phase 2's own embedder, made and run in one thread at the lowest CPU priority
        # (its inference threads inherit it): embedding then takes only the CPU that
        # ingest, phase 1 and queries leave. Without it, phase 2 shares `embedder`.
        self._background = background
        self._background_embedder: Embedder | None = None
        self._background_pool = (
            ThreadPoolExecutor(1, "dense-idle", initializer=_lowest_priority)
            if background is not None
            else None
        )
        self._sparse = sparse
        # What the dense vector is made of: `dense_text`, unless a bench measures another
        # (bench/dense_text.py); INDEXED_TEXT_VERSION names only the default.
        self._dense_text = dense_text
        # What hits show: the store keeps none of it.
        self._memories = memories
        # Without it, memories are indexed without their preceding turn.
        self._turns = turns
        # Without it, indexing is one phase: each memory is embedded before it is stored.
        self._pending = pending
        self._wake = asyncio.Event()
        self._compact = asyncio.Event()
        # Compactions begun and finished, so that `compacted` can wait for one begun after it.
        self._compactions_begun = 0
        self._compactions_done = 0
        self._compaction_ended = asyncio.Condition()

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    async def ensure(self) -> None:
        await self._store.ensure(self._embedder.dim)

    async def drop(self) -> None:
        if self._pending is not None:
            await self._pending.clear()
        await self._store.drop()

    async def count(self) -> int:
        return await self._store.count()

    async def close(self) -> None:
        await self._store.close()

    async def index(self, envelope: Envelope) -> None:
        """Upsert the memory's points; the same memory indexed twice is still the same points."""
        await self.index_all([envelope])

    async def index_all(self, envelopes: list[Envelope]) -> None:
        """Upsert every chunk of many memories: without their dense vectors, which are
        pending then (two phases), or embedded in one batch."""
        before = await self._turns.preceding(envelopes) if self._turns and envelopes else {}
        pieces = [piece for e in envelopes for piece in self._pieces(e, before)]
        if not pieces:
            return
        if self._pending is not None:
            await self._store.upsert(
                [
                    StorePoint(id=i, dense=None, sparse=self._sparse.document(s), payload=p)
                    for i, s, _, p in pieces
                ]
            )
            # Listed once stored: phase 2 never claims a point the store does not have yet.
            causes = {
                e.data.memory_id: e.event_id
                for e in envelopes
                if isinstance(e.data, MemoryRecorded)
            }
            await self._pending.add(
                [
                    PendingChunk(
                        i,
                        p["tenant_id"],
                        p["user_id"],
                        p["memory_id"],
                        d,
                        traceparent_for(causes.get(p["memory_id"])),
                    )
                    for i, _, d, p in pieces
                ]
            )
            self._wake.set()
            return
        texts = [dense for _, _, dense, _ in pieces]
        # The model is CPU-bound: off the event loop, so queries keep being answered.
        vectors = await asyncio.to_thread(self._embedder.embed, texts)
        points = [
            StorePoint(
                id=point_id, dense=vector, sparse=self._sparse.document(sparse), payload=payload
            )
            for (point_id, sparse, _, payload), vector in zip(pieces, vectors, strict=True)
        ]
        await self._store.upsert(points)

    async def embed_pending(self, limit: int = DENSE_BATCH) -> int:
        """Phase 2, once: embed up to `limit` pending chunks and give their points the
        dense vector; how many. A failure leaves them pending."""
        if self._pending is None:
            return 0
        async with self._pending.claim(limit) as chunks:
            if not chunks:
                return 0
            with background_phase("index dense", [c.traceparent for c in chunks]):
                texts = [c.text for c in chunks]
                if self._background_pool is not None:
                    loop = asyncio.get_running_loop()
                    dense = await loop.run_in_executor(
                        self._background_pool, self._embed_in_background, texts
                    )
                else:
                    dense = await asyncio.to_thread(self._embedder.embed, texts)
                await self._store.set_dense(
                    {c.point_id: v for c, v in zip(chunks, dense, strict=True)}
                )
        return len(chunks)

    async def start_background(self) -> None:
        """Make phase 2's own embedder now, in its idle thread, rather than at its first
        batch: loading a model holds the GIL for seconds, and at the lowest priority it
        keeps it longer while the rest of the machine is busy, so a first load under load
        stopped phase 1 (measured: 202 -> keyword-searchable p95 0.85 -> 2 s at 200/s)."""
        if self._background_pool is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._background_pool, self._background_model)

    def _background_model(self) -> Embedder:
        if self._background_embedder is None:
            assert self._background is not None
            self._background_embedder = self._background()
        return self._background_embedder

    def _embed_in_background(self, texts: list[str]) -> list[list[float]]:
        return self._background_model().embed(texts)

    async def finish_dense(self) -> int:
        """Phase 2 until nothing is pending (after a rebuild); how many chunks it embedded."""
        total = 0
        while done := await self.embed_pending():
            total += done
        return total

    async def run_dense(self) -> None:
        """Phase 2 for ever: woken by phase 1, and every `DENSE_IDLE_S` without it."""
        while True:
            self._wake.clear()
            try:
                done = await self.embed_pending()
            except Exception as e:
                # The store or the database is away: the chunks stay pending; try again.
                log.warning("dense_backfill_failed", error=e)
                done = 0
            if done:
                log.debug("dense_backfilled", count=done)
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), DENSE_IDLE_S)

    def _pieces(
        self, envelope: Envelope, before: dict[str, Turn]
    ) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(point id, sparse text, dense text, payload) for each chunk of the memory. The
        payload keeps none of the memory's words or metadata: only what filters match, what
        ranks a hit among its session's, and where the chunk lies in its memory."""
        memory = envelope.data
        assert isinstance(memory, MemoryRecorded)
        previous = before.get(memory.memory_id)
        spans = memory.chunk_spans()
        common = {
            "tenant_id": envelope.tenant_id,
            "user_id": memory.user_id,
            "memory_id": memory.memory_id,
            "event_id": envelope.event_id,
            "source_type": memory.source_type,
            "session_id": memory.session_id,
            "agent_id": memory.agent_id,
            "source_id": memory.source_id,
            "occurred_at": envelope.occurred_at.isoformat(),
            "recorded_at": envelope.recorded_at.isoformat(),
            "occurred_ts": envelope.occurred_at.timestamp(),
            "recorded_ts": envelope.recorded_at.timestamp(),
            "embedding_model": self._embedder.name,
            "embedding_dim": self._embedder.dim,
            "chunks": len(spans),
        }
        pieces = []
        for span in spans:
            text = memory.content[span.start : span.end]
            payload = {
                **common,
                "chunk_index": span.index,
                "chunk_start": span.start,
                "chunk_end": span.end,
            }
            point_id = (
                memory.memory_id
                if span.index == 0
                else derived_id(memory.memory_id, str(span.index))
            )
            chunk = chunk_context(envelope, memory, text, previous)
            pieces.append((point_id, sparse_text(chunk), self._dense_text(chunk), payload))
        return pieces

    async def forget(self, tenant_id: str, user_id: str) -> None:
        # The list first, so no later claim takes these chunks; a claim already running
        # cannot bring a point back: the store skips the vectors of points it lacks.
        if self._pending is not None:
            await self._pending.drop_subject(tenant_id, user_id)
        await self._store.delete_subject(tenant_id, user_id)

    def compact_soon(self) -> None:
        """After a forget: have `run_compactions` leave nothing of the deleted points in the
        store's files. It copies the whole store, seconds at tens of thousands of points,
        so it runs beside the consumer rather than in it."""
        self._compact.set()

    async def compacted(self) -> None:
        """After deletions: a compaction begun from now on, waited for (so that the caller,
        which coalesces deletions, knows how long one takes and spaces them)."""
        wanted = self._compactions_begun + 1
        self._compact.set()
        async with self._compaction_ended:
            await self._compaction_ended.wait_for(lambda: self._compactions_done >= wanted)

    async def run_compactions(self) -> None:
        """Compactions for ever: one at start (a store whose last was cut short by a restart
        says so), then one whenever `compact_soon` asks; a failure is tried again."""
        while True:
            self._compact.clear()
            self._compactions_begun += 1
            try:
                await self._store.compact()
            except Exception as e:
                log.warning("store_compaction_failed", error=e)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._compact.wait(), COMPACT_RETRY_S)
                continue
            self._compactions_done = self._compactions_begun
            async with self._compaction_ended:
                self._compaction_ended.notify_all()
            await self._compact.wait()

    async def delete(self, tenant_id: str, memory_id: str) -> None:
        if self._pending is not None:
            await self._pending.drop_memory(tenant_id, memory_id)
        await self._store.delete_memory(tenant_id, memory_id)

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        mode = query.mode if query.mode in ("vector", "keyword", "hybrid") else "hybrid"
        dense = None
        if mode != "keyword":
            if is_local(self._embedder):
                # One text of a local model: 1.4-3 ms of CPU, on this thread. Handed to
                # another, the call waited for the interpreter's lock twice while phase 1
                # held it, and took 10-28 ms under ingest (README: "Search while ingest runs").
                # Phase 2 embeds with its own copy, so this one is not busy with a batch
                # (without phase 2, `index_all` may hold it for one: the loop waits then).
                [dense] = self._embedder.embed([query.query])
            else:
                [dense] = await asyncio.to_thread(self._embedder.embed, [query.query])
        store_filter = StoreFilter(
            tenant_id=query.tenant_id,
            user_id=query.user_id,
            source_type=query.source_type,
            session_id=query.session_id,
            agent_id=query.agent_id,
            source_id=query.source_id,
            occurred_before=query.occurred_before.timestamp() if query.occurred_before else None,
            recorded_before=query.recorded_before.timestamp() if query.recorded_before else None,
        )
        sparse = self._sparse.query(query.query)
        expand = EXPAND_SEEDS > 0 and query.session_id is None
        depth = max(query.limit, EXPAND_DEPTH) if expand else query.limit
        hits = await self._store.search(
            dense,
            sparse,
            store_filter,
            depth,
            mode=mode,  # type: ignore[arg-type]
            alpha=query.alpha,
        )
        span = dates.named_span(query.query) if DATE_SPANS else None
        if span is not None and hits:
            then = await self._then(span, dense, sparse, store_filter, depth, query)
            hits = fusion.fuse(hits, then)
        hits = self._expand(hits, query.limit) if expand else hits[: query.limit]
        if query.threshold is not None:
            hits = [h for h in hits if h.score >= query.threshold]
        return await self._hydrate(query.tenant_id, hits)

    async def _then(
        self,
        span: dates.Span,
        dense: list[float] | None,
        sparse: SparseVector,
        store_filter: StoreFilter,
        depth: int,
        query: SearchQuery,
    ) -> list[StoreHit]:
        """The same search within the span of valid time the query names (and never past
        its as-of): fused with the whole search, what happened then ranks above what
        only matches the words."""
        start, end = span[0].timestamp(), span[1].timestamp()
        if store_filter.occurred_before is not None:
            end = min(end, store_filter.occurred_before)
        if start > end:
            return []
        then = replace(store_filter, occurred_after=start, occurred_before=end)
        mode = query.mode if query.mode in ("vector", "keyword", "hybrid") else "hybrid"
        return await self._store.search(
            dense,
            sparse,
            then,
            depth,
            mode=mode,  # type: ignore[arg-type]
            alpha=query.alpha,
        )

    async def _hydrate(self, tenant_id: str, hits: list[StoreHit]) -> list[SearchHit]:
        """The hits with their memories' words and metadata, read in one query; a hit whose
        memory is gone from the read model (dropped meanwhile) is left out."""
        if not hits:
            return []
        ids = list(dict.fromkeys(h.payload["memory_id"] for h in hits))
        found = await self._memories.contents(tenant_id, ids)
        return [
            search_hit(h, memory)
            for h in hits
            if (memory := found.get(h.payload["memory_id"])) is not None
        ]

    def _expand(self, hits: list[StoreHit], limit: int) -> list[StoreHit]:
        """The head of `hits`, then the best other turns of its top hits' sessions found
        deeper in `hits`, then the rest; at most `limit`."""
        seeds = [h for h in hits[:EXPAND_SEEDS] if h.payload.get("session_id")]
        if not seeds:
            return hits[:limit]
        head = hits[:EXPAND_AT]
        seen = {h.id for h in head}
        extra: list[StoreHit] = []
        for session in dict.fromkeys(h.payload["session_id"] for h in seeds):
            turns = [
                h for h in hits if h.payload.get("session_id") == session and h.id not in seen
            ][:EXPAND_PER_SEED]
            seen.update(h.id for h in turns)
            extra.extend(turns)
        if not extra:
            return hits[:limit]
        rest = [h for h in hits[EXPAND_AT:] if h.id not in seen]
        # Deeper turns score lower than the head's last: keep the list's scores descending.
        high = head[-1].score
        clamped = []
        for h in extra:
            high = min(h.score, high)
            clamped.append(replace(h, score=high))
        rest = [replace(h, score=min(h.score, high)) for h in rest]
        return (head + clamped + rest)[:limit]


def search_hit(hit: StoreHit, memory: MemoryText) -> SearchHit:
    """What a search shows of one hit: its chunk of the memory, with the memory's metadata
    and what the point says of it."""
    p = hit.payload
    metadata = dict(memory.metadata)
    for key, name in (("session_id", "sessionId"), ("agent_id", "agentId")):
        if p.get(key):
            metadata[name] = p[key]
    metadata["sourceType"] = p["source_type"]
    if p.get("chunks", 1) > 1:
        metadata["chunk"] = {
            "index": p["chunk_index"],
            "start": p["chunk_start"],
            "end": p["chunk_end"],
            "of": p["chunks"],
        }
    return SearchHit(
        memory_id=p["memory_id"],
        content=memory.content[p["chunk_start"] : p["chunk_end"]],
        similarity=round(float(hit.score), 6),
        source_type=p["source_type"],
        ingested_at=datetime.fromisoformat(p["recorded_at"]),
        metadata=metadata,
        source_id=p.get("source_id"),
        user_id=p.get("user_id"),
        occurred_at=datetime.fromisoformat(p["occurred_at"]) if p.get("occurred_at") else None,
    )


def _lowest_priority() -> None:
    """Nice the calling thread to 19 (on Linux, setpriority with who=0 is per thread)."""
    with suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)
