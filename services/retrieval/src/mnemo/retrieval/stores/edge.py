"""The vector store in qdrant-edge: Qdrant's own engine inside this process, in one folder.

What the engine gives, as measured (bench/vector_store.py): a filtered query in well under
a millisecond at 20k points, native weighted RRF, the IDF modifier with an IDF corpus
scoped by filter, and a write-ahead log, so an upsert is durable once it returns.

What it does not: a folder is open in one shard at a time. A second open, from this
process or another, fails (on the folder's `lock`, taken before anything else), so one
retrieval replica owns one folder (scale out with a Qdrant server: `QdrantClientStore`).
It has no background optimizer either: points stay in plain segments, searched exactly
through the payload indexes made here, which keeps subject-filtered search fast without
building HNSW graphs. Nor does it ever drop a deleted point's bytes: its dense vector
(from which words can be approximated), hashed word ids and payload stay in the segments
and the WAL.

So after a forget, `compact()` copies the live points into a new shard and swaps it in.
The folder holds each shard in a subfolder (`gen-<n>`) and a file, `live`, naming the one
in use. Queries answer from the old shard while the copy runs; writes go to it and are
noted, then replayed on the new one, and `live` is replaced (atomically) to name it: only
that replay holds calls back. The old shard is then closed and removed. Most engine calls
hold the GIL while they run (measured: an upsert of 500 points, 60-90 ms; `optimize()`,
0.5 s at 20k points), so the copy goes in small steps, the event loop running between
them. A crash at any point leaves `live` naming a whole shard; `ensure` removes the rest,
and a file `compaction-due`, there from a deletion until a compaction ends, says one is
still to do. A folder made by an earlier release holds its shard at the top: it is used
as it is, and its files go at its first compaction.

Each engine call runs in a worker thread, so the event loop never waits on the disk.
"""

import asyncio
import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import qdrant_edge as qe

from mnemo.retrieval.stores.base import (
    DENSE,
    KEYWORD_FIELDS,
    PREFETCH_FACTOR,
    RRF_K,
    SPARSE,
    TIME_FIELDS,
    AtOrAfter,
    Condition,
    Match,
    SearchMode,
    SparseVector,
    StoreFilter,
    StoreHit,
    StorePoint,
    VectorStoreError,
    check_points,
    resolve_mode,
    rrf_weights,
)

# Written by EdgeShard.create: its presence means the folder already holds a shard.
_CONFIG_FILE = "edge_config.json"
# In the store's folder: the name of the subfolder whose shard is in use.
_LIVE = "live"
_LOCK = "lock"  # held (flock) by the store's owner
# Present while points were deleted since the last compaction (it outlives a restart).
_DUE = "compaction-due"
_GENERATION = "gen-"
# Points copied per engine call by a compaction: each call holds the GIL (about 25 ms).
COPY_STEP = 128
# A shard is flushed after a write once its last flush is FLUSH_EVERY seconds old, or
# FLUSH_POINTS points were written since (points upserted, dense vectors set, deletions);
# a new shard every few steps of its copy. A flush holds the GIL while it writes and
# fsyncs, about 15 ms on a quiet machine plus ~6 ms per thousand points (30-120 ms under
# ingest): once a second, it was the longest stall of retrieval's event loop and set the
# p95 of searches during ingest (bench/ingest.py --search-rate). The WAL has every write
# meanwhile; what is unflushed is written out by a close too (a compaction's swap), so
# the points bound that stall.
FLUSH_EVERY = 30.0
FLUSH_POINTS = 5000
FLUSH_STEPS = 4
_clock = time.monotonic  # the flushes' clock (a test moves it)
# Copies one compaction makes at most when points are deleted while it copies (each
# deletion would otherwise leave its bytes in the new shard too).
COPY_ROUNDS = 3

# A write, as it can be applied again to another shard (a compaction's new one).
_Write = Callable[[qe.EdgeShard], None]


class EdgeVectorStore:
    """A `VectorStore` in the folder `path` (created when missing)."""

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._live = self._path  # the folder of the shard in use (see `_recover`)
        self._flushed = 0.0  # when the shard in use was last flushed (monotonic)
        self._unflushed = 0  # points written to it since
        self._lock: int | None = None  # the folder's lock file, while open
        self._shard: qe.EdgeShard | None = None
        self._config: qe.EdgeConfig | None = None
        # Engine calls in flight, and whether a compaction is swapping the shard: calls
        # wait while it does, and it waits for those in flight.
        self._calls = 0
        self._swapping = False
        self._gate = asyncio.Condition()
        # While a compaction copies, the writes made meanwhile; whether points were deleted
        # since the last copy began (a compaction without any has nothing to drop).
        self._noted: list[_Write] | None = None
        self._deleted = False
        self._compacting = asyncio.Lock()
        self._stopping = False
        self._writing = asyncio.Lock()
        self.copied = 0  # points the running compaction has copied so far

    async def ensure(self, dense_dim: int) -> None:
        await asyncio.to_thread(self._ensure, dense_dim)

    def _ensure(self, dense_dim: int) -> None:
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dense_dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        self._own()
        self._live = self._recover()
        self._deleted = (self._path / _DUE).exists()
        try:
            if (self._live / _CONFIG_FILE).exists():
                shard = qe.EdgeShard.load(str(self._live), config)
            else:
                shard = qe.EdgeShard.create(str(self._live), config)
        except Exception as e:
            raise _open_error(self._path, dense_dim, e) from e
        self._config = config
        self._shard = _indexed(shard)
        shard.flush()  # what the WAL replayed: not left for a later call to write out
        self._flushed, self._unflushed = _clock(), 0

    def _own(self) -> None:
        """Take the folder's lock, held until `close`: a second owner must fail before it
        recovers anything (it would remove the generation a running compaction writes)."""
        if self._lock is not None:
            return
        self._path.mkdir(parents=True, exist_ok=True)
        lock = os.open(self._path / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(lock)
            raise _owned_elsewhere(self._path) from e
        self._lock = lock

    def _recover(self) -> Path:
        """The folder of the shard in use: the one `live` names (written once that shard
        was whole), else the store's own folder when a release before generations made it,
        else a first generation. Whatever else a compaction left, stopped midway or before
        removing the old shard, is removed."""
        marker = self._path / _LIVE
        if marker.exists():
            live = self._path / marker.read_text().strip()
        elif (self._path / _CONFIG_FILE).exists():
            live = self._path
        else:
            live = self._path / f"{_GENERATION}0"
            _write_live(self._path, live.name)
        _remove_all_but(self._path, live)
        return live

    def _next_generation(self) -> Path:
        name = self._live.name
        n = int(name[len(_GENERATION) :]) if self._live != self._path else 0
        return self._path / f"{_GENERATION}{n + 1}"

    async def upsert(self, points: list[StorePoint]) -> None:
        check_points(points)
        if points:
            operation = qe.UpdateOperation.upsert_points([_point(p) for p in points])
            await self._write(lambda shard: shard.update(operation), len(points))

    async def set_dense(self, vectors: dict[str, list[float]]) -> None:
        if vectors:
            await self._write(lambda shard: self._set_dense(shard, vectors), len(vectors))

    def _set_dense(self, shard: qe.EdgeShard, vectors: dict[str, list[float]]) -> None:
        def update(ids: list[str]) -> None:
            points = [qe.PointVectors(i, {DENSE: vectors[i]}) for i in ids]  # type: ignore[dict-item]
            shard.update(qe.UpdateOperation.update_vectors(points))

        try:
            update(list(vectors))
        except Exception:
            # One point deleted meanwhile fails the batch: update those still stored.
            stored = {str(r.id) for r in shard.retrieve(list(vectors), False, False)}  # type: ignore[arg-type]
            if stored >= set(vectors):
                raise
            update([i for i in vectors if i in stored])

    async def delete_subject(self, tenant_id: str, user_id: str) -> None:
        subject = _filter(StoreFilter(tenant_id=tenant_id, user_id=user_id).scope())
        operation = qe.UpdateOperation.delete_points_by_filter(subject)
        await self._write(lambda shard: shard.update(operation), 1, deletes=True)

    async def delete_memory(self, tenant_id: str, memory_id: str) -> None:
        memory = _filter([Match("tenant_id", tenant_id), Match("memory_id", memory_id)])
        operation = qe.UpdateOperation.delete_points_by_filter(memory)
        await self._write(lambda shard: shard.update(operation), 1, deletes=True)

    async def _write(self, write: _Write, points: int, *, deletes: bool = False) -> None:
        # One at a time, in the order they came: a compaction replays them in that order.
        async with self._writing, self._engine() as shard:
            if deletes and not self._deleted:
                (self._path / _DUE).touch()  # before the points go (a crash keeps it due)
                self._deleted = True
            await asyncio.to_thread(self._written, write, shard, points)
            if self._noted is not None:
                self._noted.append(write)

    def _written(self, write: _Write, shard: qe.EdgeShard, points: int) -> None:
        """The write, then a flush when the last is `FLUSH_EVERY` old or `FLUSH_POINTS`
        were written since: the WAL holds every write already, but a shard's close writes
        out all that is unflushed at once, holding the GIL (200 ms for 20k points), and a
        compaction closes the old shard."""
        write(shard)
        self._unflushed += points
        if self._unflushed >= FLUSH_POINTS or _clock() - self._flushed >= FLUSH_EVERY:
            shard.flush()
            self._flushed, self._unflushed = _clock(), 0

    @asynccontextmanager
    async def _engine(self) -> AsyncIterator[qe.EdgeShard]:
        """The open shard, for one engine call (not while a compaction swaps it)."""
        async with self._gate:
            await self._gate.wait_for(lambda: not self._swapping)
            shard = self._ready()
            self._calls += 1
        try:
            yield shard
        finally:
            async with self._gate:
                self._calls -= 1
                self._gate.notify_all()

    async def compact(self) -> None:
        """Leave nothing of deleted points in the folder: copy the live points into a new
        shard, then put it in the old one's place (see the module's docstring). Copied
        again when points were deleted during the copy (up to `COPY_ROUNDS` times), not at
        all when none were since the last: forgets close together share one. That points
        were deleted is kept in the folder, so a compaction a restart cut short is done by
        the next `compact()`."""
        async with self._compacting:
            # Its own task: cancelled (the service stopping), the copy stops at its next
            # step and removes what it made, and a swap under way ends, before this returns.
            work = asyncio.create_task(self._compact())
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                self._stopping = True
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await work
                raise
            finally:
                self._stopping = False

    async def _compact(self) -> None:
        for _ in range(COPY_ROUNDS):
            if not self._deleted:
                break
            self._deleted = False
            try:
                new, folder = await self._copy()
                await self._swap(new, folder)
            except BaseException:
                self._deleted = True  # still to do
                raise
        if not self._deleted:
            # On the event loop, as the mark is made: a deletion cannot come in between.
            (self._path / _DUE).unlink(missing_ok=True)

    async def _copy(self) -> tuple[qe.EdgeShard, Path]:
        """A new shard, in the next generation's folder, holding every point of the open
        one; writes made meanwhile noted (for `_swap` to replay)."""
        assert self._config is not None
        folder = self._next_generation()
        await asyncio.to_thread(shutil.rmtree, folder, True)
        new = await asyncio.to_thread(qe.EdgeShard.create, str(folder), self._config)
        self._noted = []
        self.copied = 0
        try:
            await asyncio.to_thread(_indexed, new)
            offset = None
            while True:
                if self._stopping:
                    raise VectorStoreError("the store's compaction was stopped")
                async with self._engine() as shard:
                    request = qe.ScrollRequest(
                        offset=offset, limit=COPY_STEP, with_payload=True, with_vector=True
                    )
                    records, offset = await asyncio.to_thread(shard.scroll, request)
                points = [qe.Point(r.id, r.vector, r.payload) for r in records]  # type: ignore[arg-type]
                if points:
                    await asyncio.to_thread(_copied, new, points, self.copied)
                    self.copied += len(points)
                if offset is None:
                    await asyncio.to_thread(new.flush)
                    return new, folder
        except BaseException:
            self._noted = None
            await asyncio.to_thread(_close_and_remove, new, folder)
            raise

    async def _swap(self, new: qe.EdgeShard, folder: Path) -> None:
        async with self._gate:
            self._swapping = True
            await self._gate.wait_for(lambda: self._calls == 0)
        try:
            noted, self._noted = self._noted or [], None
            old, old_folder = self._shard, self._live
            await asyncio.to_thread(self._replace, new, folder, noted)
        finally:
            async with self._gate:
                self._swapping = False
                self._gate.notify_all()
        if old is not None and self._shard is new:
            # No call holds the old shard now: it goes, with its folder.
            await asyncio.to_thread(_close_and_remove, old, old_folder)
            if old_folder == self._path:  # a folder of a release before generations
                await asyncio.to_thread(_remove_all_but, self._path, folder)

    def _replace(self, new: qe.EdgeShard, folder: Path, noted: list[_Write]) -> None:
        """Replay the writes made during the copy on the new shard and make it the one in
        use (`live` names it from then on). A failure before leaves the old one in use, as
        if nothing had been tried."""
        try:
            if self._shard is None:  # closed meanwhile (the service stopping)
                raise VectorStoreError("the store was closed during its compaction")
            for write in noted:
                write(new)
            _write_live(self._path, folder.name)
        except BaseException:
            _close_and_remove(new, folder)
            raise
        self._shard, self._live = new, folder
        self._flushed, self._unflushed = _clock(), len(noted)

    async def search(
        self,
        dense: list[float] | None,
        sparse: SparseVector | None,
        filter: StoreFilter,
        limit: int,
        mode: SearchMode = "vector",
        alpha: float = 0.5,
    ) -> list[StoreHit]:
        mode_ = resolve_mode(mode, dense, sparse, limit, alpha)
        if mode_ is None:
            return []
        where = _filter(filter.conditions())
        # IDF over the points the asker may see: no other tenant's or agent's words weigh on it.
        idf = qe.SearchParams(idf=qe.IdfParams(corpus=_filter(filter.corpus())))
        if mode_ == "vector":
            assert dense is not None
            request = qe.QueryRequest(
                limit=limit, query=_nearest_dense(dense), filter=where, with_payload=True
            )
        elif mode_ == "keyword":
            assert sparse is not None
            request = qe.QueryRequest(
                limit=limit,
                query=_nearest_sparse(sparse),
                filter=where,
                params=idf,
                with_payload=True,
            )
        else:
            assert dense is not None and sparse is not None
            depth = limit * PREFETCH_FACTOR
            request = qe.QueryRequest(
                limit=limit,
                prefetches=[
                    qe.Prefetch(limit=depth, query=_nearest_dense(dense), filter=where),
                    qe.Prefetch(
                        limit=depth, query=_nearest_sparse(sparse), filter=where, params=idf
                    ),
                ],
                # The stubs type `query` as Fusion, of which Rrf is a nested, unrelated class.
                query=qe.Fusion.Rrf(k=RRF_K, weights=rrf_weights(alpha)),  # type: ignore[arg-type]
                filter=where,
                with_payload=True,
            )
        async with self._engine() as shard:
            # On this thread: qdrant-edge holds the interpreter's lock while it searches (a
            # thread searching left this one half its progress), so another thread only
            # added two waits for the lock under load (README: "Search while ingest runs").
            found = shard.query(request)
        return [StoreHit(str(p.id), float(p.score), dict(p.payload or {})) for p in found]

    async def count(self) -> int:
        if self._shard is None:
            return 0
        async with self._engine() as shard:
            return await asyncio.to_thread(shard.count, qe.CountRequest(exact=True))

    async def drop(self) -> None:
        await self.close()
        await asyncio.to_thread(shutil.rmtree, self._path, True)

    async def close(self) -> None:
        async with self._gate:
            await self._gate.wait_for(lambda: not self._swapping and self._calls == 0)
            shard, self._shard = self._shard, None
        if shard is not None:
            # Flushed segments reopen without replaying the WAL.
            await asyncio.to_thread(_flush_and_close, shard)
        lock, self._lock = self._lock, None
        if lock is not None:
            os.close(lock)  # and with it the folder's lock

    def _ready(self) -> qe.EdgeShard:
        if self._shard is None:
            raise VectorStoreError(f"the vector store at {self._path} is not open: call ensure()")
        return self._shard


def _indexed(shard: qe.EdgeShard) -> qe.EdgeShard:
    """The shard with the payload indexes filters use: without them a filter reads every
    payload (20 ms at 20k points, not 0.2 ms). Creating an index that exists is a no-op,
    so an older folder gains new ones."""
    for key in KEYWORD_FIELDS:
        shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
    for key in TIME_FIELDS:
        shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Float))
    return shard


def _flush_and_close(shard: qe.EdgeShard) -> None:
    shard.flush()
    shard.close()


def _copied(new: qe.EdgeShard, points: list[qe.Point], before: int) -> None:
    new.update(qe.UpdateOperation.upsert_points(points))
    if (before // COPY_STEP + 1) % FLUSH_STEPS == 0:
        new.flush()  # written out in parts, not all at once when it is swapped in


def _close_and_remove(shard: qe.EdgeShard, folder: Path) -> None:
    shard.close()
    if folder.name.startswith(_GENERATION):  # never the store's own folder
        shutil.rmtree(folder, ignore_errors=True)


def _write_live(path: Path, name: str) -> None:
    """Name the shard in use, atomically and durably (a crash leaves the old name or the
    new one, never a part)."""
    staged = path / f"{_LIVE}.tmp"
    with open(staged, "w") as f:
        f.write(name)
        f.flush()
        os.fsync(f.fileno())
    os.replace(staged, path / _LIVE)
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _remove_all_but(path: Path, live: Path) -> None:
    """Everything in the store's folder but the shard in use and `live`: other
    generations, and an earlier release's shard files once a generation replaced them."""
    for child in path.iterdir():
        if child == live or child.name in (_LIVE, _LOCK, _DUE):
            continue
        if live == path and not child.name.startswith(_GENERATION):
            continue  # the earlier release's shard itself
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _owned_elsewhere(path: Path) -> VectorStoreError:
    return VectorStoreError(
        f"the vector store at {path} is open in another process (or twice in this one); "
        "an embedded store has one owner: give each process its own folder, "
        "or use a Qdrant server"
    )


def _open_error(path: Path, dense_dim: int, error: Exception) -> VectorStoreError:
    message = str(error)
    if "WouldBlock" in message:
        return _owned_elsewhere(path)
    if "incompatible" in message.lower():
        return VectorStoreError(
            f"the vector store at {path} was made for other vectors than {dense_dim}-d "
            f"dense + sparse ({message}); drop it and rebuild the projection from the log"
        )
    return VectorStoreError(f"cannot open the vector store at {path}: {message}")


def _point(point: StorePoint) -> qe.Point:
    vectors: dict[str, list[float] | qe.SparseVector] = {}
    if point.dense is not None:
        vectors[DENSE] = point.dense
    if point.sparse is not None and point.sparse.indices:
        vectors[SPARSE] = qe.SparseVector(point.sparse.indices, point.sparse.values)
    return qe.Point(point.id, vectors, point.payload)  # type: ignore[arg-type]


def _nearest_dense(dense: list[float]) -> qe.Query:
    return qe.Query.Nearest(dense, using=DENSE)


def _nearest_sparse(sparse: SparseVector) -> qe.Query:
    return qe.Query.Nearest(qe.SparseVector(sparse.indices, sparse.values), using=SPARSE)


def _filter(conditions: list[Condition]) -> qe.Filter:
    must: list[qe.FieldCondition] = []
    for c in conditions:
        if isinstance(c, Match):
            must.append(qe.FieldCondition(c.key, match=qe.MatchValue(c.value)))
        elif isinstance(c, AtOrAfter):
            must.append(qe.FieldCondition(c.key, range=qe.RangeFloat(gte=c.value)))
        else:
            must.append(qe.FieldCondition(c.key, range=qe.RangeFloat(lte=c.value)))
    return qe.Filter(must=list(must))
