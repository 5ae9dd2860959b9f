"""qdrant-edge keeps a deleted point's bytes (its dense vector, hashed word ids, payload) in
its segments and WAL; `EdgeVectorStore.compact()` copies the live points into a new shard
and puts it in the old one's place. Against the real engine, in a temporary folder.

What is checked: the deleted points' bytes leave every file of the folder; the rest stays,
searchable, writable and reopenable; calls made while a compaction runs all answer, and
their writes (deletes too) are in the result; a compaction stopped midway (cancelled, or a
crash simulated by the folders it leaves) leaves a whole store behind.
"""

import asyncio
import math
import shutil
import struct
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import qdrant_edge as qe

from mnemo.retrieval.stores import EdgeVectorStore, VectorStoreError, edge
from mnemo.retrieval.stores.edge import COPY_STEP
from tests.disk import files_holding
from tests.e2e.waiting import eventually_async

from .test_vector_store import DIM, angle, ids, point, search


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def stored_float(vector: list[float]) -> bytes:
    """The bytes of the vector's first component as the engine stores it (normalized for
    cosine, float32)."""
    first = struct.unpack("<f", struct.pack("<f", vector[0] / math.hypot(*vector)))[0]
    return struct.pack("<f", first)


def holding(folder: Path, needle: bytes) -> list[str]:
    return files_holding(folder, [needle])


# A first component no other vector here has: its bytes find the point's vector on disk.
SECRET = [0.8125, 0.5, 0.25, 0.171875]


async def test_compact_leaves_nothing_of_deleted_points_in_the_folder(tmp_path, tenant):
    folder = tmp_path / "store"
    user = "forgotten-" + uuid.uuid4().hex[:8]
    gone = [point(tenant, user, "zanzibar quokka", SECRET) for _ in range(3)]
    kept = [point(tenant, "u2", f"kept {i}", angle(i)) for i in range(2 * COPY_STEP + 5)]
    # Phase 1's kind of point: words only, its dense vector still to come.
    waiting = point(tenant, "u2", "pending marmalade", angle(0))
    async with opened(folder) as store:
        await store.upsert([*gone, *kept, replace(waiting, dense=None)])
        assert holding(folder, stored_float(SECRET)) and holding(folder, user.encode())
        await store.delete_subject(tenant, user)
        # Deleted, the bytes stay: in the segment and in the WAL.
        assert holding(folder, stored_float(SECRET)) and holding(folder, user.encode())

        await store.compact()
        assert holding(folder, stored_float(SECRET)) == []
        assert holding(folder, user.encode()) == []
        assert await store.count() == len(kept) + 1
        assert ids(await search(store, tenant, "u2", limit=1)) == [kept[0].id]
        hits = await search(store, tenant, "u2", text="marmalade", mode="keyword", limit=1)
        assert ids(hits) == [waiting.id]
        assert waiting.id not in ids(await search(store, tenant, "u2", limit=len(kept) + 1))
        await store.set_dense({waiting.id: angle(0.5)})
        late = point(tenant, "u2", "after", angle(0.25))
        await store.upsert([late])
        assert listed(folder) == ["gen-1", "live", "lock"]
    async with opened(folder) as store:
        assert await store.count() == len(kept) + 2
        assert ids(await search(store, tenant, "u2", limit=3)) == [kept[0].id, late.id, waiting.id]


async def test_a_compaction_with_nothing_deleted_leaves_the_folder_as_it_is(tmp_path, tenant):
    folder = tmp_path / "store"
    async with opened(folder) as store:
        await store.upsert([point(tenant, "u1", f"p {i}", angle(i)) for i in range(10)])
        await store.compact()
        assert (folder / "live").read_text() == "gen-0"
        await store.delete_subject(tenant, "nobody")  # a forget repeated: it may have been
        await store.compact()
        assert (folder / "live").read_text() == "gen-1"
        assert await store.count() == 10


async def test_calls_made_during_a_compaction_all_answer_and_their_writes_stay(
    tmp_path, tenant, monkeypatch
):
    """Searches, upserts, vectors and deletes arrive while a compaction runs (as queries,
    phase 1 and phase 2 do): each answers, and the compacted store holds what they wrote; a
    point deleted during the copy, after it was copied, leaves the folder too."""
    monkeypatch.setattr(edge, "COPY_STEP", 8)  # a copy of many steps
    folder = tmp_path / "store"
    async with opened(folder) as store:
        await store.upsert([point(tenant, "u1", f"p {i}", angle(i % 90)) for i in range(2000)])
        await store.delete_subject(tenant, "u1")
        live = 400
        await store.upsert([point(tenant, "u2", f"q {i}", angle(i % 90)) for i in range(live)])
        # The first point a copy takes (ids in order): copied, then deleted during the copy.
        doomed = replace(point(tenant, "u4", "doomed", SECRET), id=str(uuid.UUID(int=1)))
        await store.upsert([doomed])
        compaction = asyncio.create_task(store.compact())
        searches: list[asyncio.Task] = []
        writes: list[asyncio.Task] = []
        written: list[str] = []
        deleted_at: list[int] = []
        deleting: list[asyncio.Task] = []

        async def delete() -> None:
            await store.delete_subject(tenant, "u4")
            deleted_at.append(store.copied)

        while not compaction.done():
            searches.append(asyncio.create_task(search(store, tenant, "u2", limit=5)))
            if not writes or writes[-1].done():  # a writer's pace: one change at a time
                new = point(tenant, "u3", f"w {len(written)}", angle(1))
                written.append(new.id)
                writes.append(asyncio.create_task(store.upsert([replace(new, dense=None)])))
                writes.append(asyncio.create_task(store.set_dense({new.id: angle(2)})))
            if store.copied and not deleting:
                deleting.append(asyncio.create_task(delete()))
            await asyncio.sleep(0.001)
        await compaction
        answers = await asyncio.gather(*searches)
        await asyncio.gather(*writes, *deleting)
        assert len(written) > 3, "the calls ran during the compaction"
        assert 0 < deleted_at[0] < live, "the test's premise: deleted during the copy"
        assert all(len(a) == 5 for a in answers)
        assert await store.count() == live + len(written)
        found = await search(store, tenant, "u3", limit=len(written) + 10)
        assert sorted(ids(found)) == sorted(written)
        assert holding(folder, stored_float(SECRET)) == []


async def test_a_cancelled_compaction_leaves_the_store_whole(tmp_path, tenant, monkeypatch):
    monkeypatch.setattr(edge, "COPY_STEP", 8)  # a copy of many steps, cancelled midway
    folder = tmp_path / "store"
    async with opened(folder) as store:
        await store.upsert([point(tenant, "u1", f"p {i}", angle(i % 90)) for i in range(1000)])
        await store.delete_subject(tenant, "u0")
        compaction = asyncio.create_task(store.compact())

        async def copying() -> bool:
            return store.copied > 0

        await eventually_async(copying, every=0.001)
        compaction.cancel()
        try:
            await compaction
        except asyncio.CancelledError:
            pass
        assert await store.count() == 1000
        assert len(await search(store, tenant, "u1", limit=3)) == 3
        # Still due (and so after a restart too), the half copy gone.
        assert listed(folder) == [
            "compaction-due",
            "gen-0",
            "live",
            "lock",
        ]
        await store.compact()  # still to do, and done now
        assert listed(folder) == ["gen-1", "live", "lock"]


async def test_a_crash_midway_leaves_one_whole_store(tmp_path, tenant):
    """What a compaction leaves when its process dies: a new shard half copied (it is
    dropped), or the old one not yet removed once `live` names the new (it goes)."""
    folder = tmp_path / "store"
    async with opened(folder) as store:
        await store.upsert([point(tenant, "u1", f"p {i}", angle(i)) for i in range(10)])
    qe.EdgeShard.create(str(folder / "gen-1"), edge_config()).close()  # half copied
    assert await reopened(folder) == (10, ["gen-0", "live", "lock"])

    # Died once `live` was replaced: the new shard (here, one point more) is whole.
    shutil.copytree(folder / "gen-0", folder / "gen-1")
    engine_upsert(folder / "gen-1", [point(tenant, "u1", "in the new shard only", angle(45))])
    (folder / "live").write_text("gen-1")
    assert await reopened(folder) == (11, ["gen-1", "live", "lock"])


async def test_a_folder_of_an_earlier_release_is_used_then_compacted(tmp_path, tenant):
    """Before generations the shard lay at the top of the folder: it opens as it is, and its
    first compaction moves it into a generation, its old files gone."""
    folder = tmp_path / "store"
    kept = [point(tenant, "u1", f"p {i}", angle(i)) for i in range(10)]
    engine_upsert(folder, [*kept, point(tenant, "u2", "gone", SECRET)])
    async with opened(folder) as store:
        assert await store.count() == 11
        await store.delete_subject(tenant, "u2")
        await store.compact()
        assert listed(folder) == ["gen-1", "live", "lock"]
        assert holding(folder, stored_float(SECRET)) == []
        assert ids(await search(store, tenant, "u1", limit=1)) == [kept[0].id]
    assert await reopened(folder) == (10, ["gen-1", "live", "lock"])


async def reopened(folder: Path) -> tuple[int, list[str]]:
    """The store in `folder` opened as a restarted service opens it: how many points it
    holds, and what is in the folder then."""
    async with opened(folder) as store:
        return await store.count(), listed(folder)


@asynccontextmanager
async def opened(folder: Path) -> AsyncIterator[EdgeVectorStore]:
    store = EdgeVectorStore(folder)
    await store.ensure(DIM)
    try:
        yield store
    finally:
        await store.close()


def listed(folder: Path) -> list[str]:
    return sorted(f.name for f in folder.iterdir())


def engine_upsert(folder: Path, points: list) -> None:
    """Points written by the engine itself into the shard in `folder` (made if missing),
    as an earlier release or a compaction left it."""
    config = edge_config()
    exists = (folder / "edge_config.json").exists()
    shard = (
        qe.EdgeShard.load(str(folder), config)
        if exists
        else qe.EdgeShard.create(str(folder), config)
    )
    operation = [qe.Point(p.id, {"dense": p.dense}, p.payload) for p in points]
    shard.update(qe.UpdateOperation.upsert_points(operation))
    shard.close()


def edge_config() -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={"dense": qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine)},
        sparse_vectors={"sparse": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )


async def test_a_second_owner_is_refused_before_it_touches_a_compaction(tmp_path, tenant):
    """A second store opened on the folder (another process, or twice in one) fails on the
    folder's lock before it tidies anything: the generation a running compaction writes
    stays."""
    folder = tmp_path / "store"
    async with opened(folder) as first:
        await first.upsert([point(tenant, "u1", f"p {i}", angle(i)) for i in range(5)])
        (folder / "gen-1").mkdir()  # as a compaction under way has it
        with pytest.raises(VectorStoreError, match="another process"):
            await EdgeVectorStore(folder).ensure(DIM)
        assert (folder / "gen-1").exists()
        assert await first.count() == 5


async def test_a_compaction_a_restart_cut_short_is_done_after_it(tmp_path, tenant):
    """That points were deleted is kept in the folder: a store closed before its compaction
    (the service stopped) compacts at the next `compact()` after it opens again."""
    folder = tmp_path / "store"
    async with opened(folder) as store:
        await store.upsert([point(tenant, "u1", f"p {i}", angle(i)) for i in range(5)])
        await store.upsert([point(tenant, "u2", "gone", SECRET)])
        await store.delete_subject(tenant, "u2")
    async with opened(folder) as store:
        assert holding(folder, stored_float(SECRET)), "the test's premise"
        await store.compact()
        assert holding(folder, stored_float(SECRET)) == []
        assert listed(folder) == ["gen-1", "live", "lock"]
        await store.compact()  # nothing deleted since: nothing to do
        assert (folder / "live").read_text() == "gen-1"


async def test_writes_flush_the_shard_at_most_every_flush_every_seconds(
    tmp_path, tenant, monkeypatch
):
    """A flush holds the GIL for tens of milliseconds under load: done after every write
    (or every second) it stalled retrieval's searches; the WAL holds the writes between."""
    now = [1000.0]
    monkeypatch.setattr(edge, "_clock", lambda: now[0])
    async with opened(tmp_path / "store") as store:
        flushes = counting_flushes(store)
        # Ingest goes on for 15 s, a write every 1.5 s: no flush.
        for i in range(10):
            now[0] += 1.5
            await store.upsert([point(tenant, "u1", f"w{i}", angle(i))])
        assert flushes == []
        now[0] = 1000.0 + edge.FLUSH_EVERY
        await store.upsert([point(tenant, "u1", "late", angle(4))])
        now[0] += 1
        await store.upsert([point(tenant, "u1", "later", angle(5))])
        assert flushes == [1000.0 + edge.FLUSH_EVERY]
        # A burst: once FLUSH_POINTS were written (vectors set count too), at once.
        burst = [point(tenant, "u2", f"b{i}", angle(i)) for i in range(edge.FLUSH_POINTS // 2)]
        await store.upsert(burst)
        assert len(flushes) == 1
        await store.set_dense({p.id: angle(1) for p in burst})
        assert len(flushes) == 2
    async with opened(tmp_path / "store") as store:
        assert await store.count() == 12 + len(burst)


def counting_flushes(store: EdgeVectorStore) -> list[float]:
    """The clock's reading at each flush of the store's shard from now on."""
    seen: list[float] = []
    shard = store._shard

    class Counted:
        def __getattr__(self, name: str):
            return getattr(shard, name)

        def flush(self) -> None:
            seen.append(edge._clock())
            shard.flush()

    store._shard = Counted()  # type: ignore[assignment]
    return seen
