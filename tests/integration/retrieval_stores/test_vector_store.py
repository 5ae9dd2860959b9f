"""One suite for every `VectorStore`: each test runs on qdrant-edge and on qdrant-client's
local mode, each on a fresh folder, against the real engines.

Dense vectors are 4-d and made by hand, so which point is near which is plain to see;
sparse vectors come from the real `SparseEncoder`.
"""

import math
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from qdrant_client import AsyncQdrantClient

from mnemo.retrieval.stores import (
    EdgeVectorStore,
    QdrantClientStore,
    SparseEncoder,
    StoreFilter,
    StorePoint,
    VectorStore,
    VectorStoreError,
)

DIM = 4
ENCODER = SparseEncoder()
QUERY = [1.0, 0.0, 0.0, 0.0]

StoreFactory = Callable[[], VectorStore]


def opener(kind: str, folder: str) -> StoreFactory:
    if kind == "edge":
        return lambda: EdgeVectorStore(folder)
    return lambda: QdrantClientStore(AsyncQdrantClient(path=folder), "memories")


@pytest.fixture(params=["edge", "client-local"])
def open_store(request, tmp_path) -> StoreFactory:
    """Opens (or reopens, after close) the store in this test's own folder."""
    return opener(request.param, str(tmp_path / "store"))


@pytest.fixture
async def store(open_store) -> AsyncIterator[VectorStore]:
    store = open_store()
    await store.ensure(DIM)
    yield store
    await store.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def angle(degrees: float) -> list[float]:
    """A unit vector `degrees` away from QUERY: cosine similarity falls as degrees grow."""
    r = math.radians(degrees)
    return [math.cos(r), math.sin(r), 0.0, 0.0]


def point(tenant: str, user: str, text: str, dense: list[float], **payload) -> StorePoint:
    return StorePoint(
        id=str(uuid.uuid4()),
        dense=dense,
        sparse=ENCODER.document(text),
        # The store keeps any payload; retrieval's own hold no words (see contents.py).
        payload={"tenant_id": tenant, "user_id": user, "label": text, **payload},
    )


def ids(hits) -> list[str]:
    return [h.id for h in hits]


async def search(store, tenant, user="u1", text="", mode="vector", limit=10, alpha=0.5, **f):
    return await store.search(
        QUERY,
        ENCODER.query(text),
        StoreFilter(tenant_id=tenant, user_id=user, **f),
        limit,
        mode=mode,
        alpha=alpha,
    )


FILLERS = [
    "we talked about the weather today",
    "lunch was pasta with friends",
    "the meeting moved to thursday",
    "remember to water the plants",
    "the train was late again",
    "bought new running shoes",
]


async def rare_word_corpus(store, tenant) -> tuple[list[StorePoint], StorePoint]:
    """Fillers near QUERY by meaning, and one far point holding the only rare word."""
    fillers = [point(tenant, "u1", t, angle(5 * i)) for i, t in enumerate(FILLERS)]
    rare = point(tenant, "u1", "my locker code is zanzibar", angle(170))
    await store.upsert([*fillers, rare])
    return fillers, rare


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
async def test_only_the_subject_of_the_tenant_comes_back(store, tenant, mode):
    other_tenant = f"{tenant}-other"
    mine = point(tenant, "u1", "the blue notebook", angle(0))
    await store.upsert(
        [
            mine,
            point(tenant, "u2", "the blue notebook", angle(0)),
            point(other_tenant, "u1", "the blue notebook", angle(0)),
        ]
    )
    assert ids(await search(store, tenant, text="blue notebook", mode=mode)) == [mine.id]


@pytest.mark.parametrize("key", ["source_type", "session_id", "agent_id", "source_id"])
async def test_filters_match_payload_fields_exactly(store, tenant, key):
    a = point(tenant, "u1", "one", angle(0), **{key: "a"})
    b = point(tenant, "u1", "two", angle(10), **{key: "b"})
    await store.upsert([a, b, point(tenant, "u1", "three", angle(20))])
    assert ids(await search(store, tenant, **{key: "b"})) == [b.id]
    assert ids(await search(store, tenant, **{key: "a"})) == [a.id]
    assert len(await search(store, tenant)) == 3


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
async def test_without_a_subject_an_agent_scope_spans_its_users(store, tenant, mode):
    mine = [point(tenant, u, "the blue notebook", angle(0), agent_id="a1") for u in ("u1", "u2")]
    await store.upsert(
        [
            *mine,
            point(tenant, "u1", "the blue notebook", angle(0), agent_id="a2"),
            point(f"{tenant}-other", "u1", "the blue notebook", angle(0), agent_id="a1"),
        ]
    )
    found = await search(store, tenant, user=None, text="blue notebook", mode=mode, agent_id="a1")
    assert sorted(ids(found)) == sorted(p.id for p in mine)
    with pytest.raises(VectorStoreError, match="user_id, an agent_id or a session_id"):
        await search(store, tenant, user=None)


async def test_an_agents_keyword_scores_do_not_count_other_agents_words(store, tenant):
    """A word's weight comes from the points the search may see: were another agent's
    memories of the user counted, an agent could plant "berlin mango" and read from the
    two words' scores that the other agent's memories say "berlin"."""
    mine = point(tenant, "u1", "berlin mango", angle(0), agent_id="a1")
    others = [
        point(tenant, "u1", f"I live in berlin, note {i}", angle(10), agent_id=agent)
        for i, agent in enumerate(["a2", "a2", "a2", None])
    ]
    await store.upsert([mine, *others])

    async def score(word: str) -> float:
        [hit] = await search(store, tenant, text=word, mode="keyword", agent_id="a1")
        assert hit.id == mine.id
        return hit.score

    assert await score("berlin") == pytest.approx(await score("mango"))
    # Unscoped (a master key's search of the user), every point counts: "berlin" is common.
    found = await search(store, tenant, text="berlin mango", mode="keyword")
    assert found[0].id == mine.id and len(found) == 5


TIME_BOUNDS = [("occurred_ts", "occurred_before"), ("recorded_ts", "recorded_before")]


@pytest.mark.parametrize(("key", "bound"), TIME_BOUNDS)
async def test_time_bounds_are_inclusive_and_skip_points_without_a_time(store, tenant, key, bound):
    early = point(tenant, "u1", "x", angle(0), **{key: 100.0})
    mid = point(tenant, "u1", "x", angle(10), **{key: 200.0})
    late = point(tenant, "u1", "x", angle(20), **{key: 300.0})
    timeless = point(tenant, "u1", "x", angle(30))
    await store.upsert([early, mid, late, timeless])
    assert ids(await search(store, tenant, **{bound: 200.0})) == [early.id, mid.id]
    assert ids(await search(store, tenant, **{bound: 99.0})) == []
    assert len(await search(store, tenant)) == 4


async def test_a_lower_time_bound_is_inclusive_and_meets_the_upper(store, tenant):
    early = point(tenant, "u1", "x", angle(0), occurred_ts=100.0)
    mid = point(tenant, "u1", "x", angle(10), occurred_ts=200.0)
    late = point(tenant, "u1", "x", angle(20), occurred_ts=300.0)
    timeless = point(tenant, "u1", "x", angle(30))
    await store.upsert([early, mid, late, timeless])
    assert ids(await search(store, tenant, occurred_after=200.0)) == [mid.id, late.id]
    assert ids(await search(store, tenant, occurred_after=150.0, occurred_before=250.0)) == [mid.id]


async def test_keyword_finds_a_rare_word_that_dense_misses(store, tenant):
    _, rare = await rare_word_corpus(store, tenant)
    assert rare.id not in ids(await search(store, tenant, "u1", "zanzibar", "vector", limit=3))
    assert ids(await search(store, tenant, "u1", "zanzibar", "keyword", limit=3)) == [rare.id]
    # Words the subject's points lack, and stopwords, match nothing.
    assert await search(store, tenant, "u1", "unheard of", "keyword") == []
    assert await search(store, tenant, "u1", "the of and", "keyword") == []


async def test_hybrid_brings_the_best_of_both_rankings(store, tenant):
    fillers, rare = await rare_word_corpus(store, tenant)
    hybrid = await search(store, tenant, "u1", "zanzibar", "hybrid", limit=2)
    assert set(ids(hybrid)) == {fillers[0].id, rare.id}
    # alpha leans the fusion toward one ranking or the other.
    leaning_dense = await search(store, tenant, "u1", "zanzibar", "hybrid", limit=2, alpha=0.9)
    leaning_sparse = await search(store, tenant, "u1", "zanzibar", "hybrid", limit=2, alpha=0.1)
    assert ids(leaning_dense)[0] == fillers[0].id
    assert ids(leaning_sparse)[0] == rare.id


@pytest.mark.parametrize(("alpha", "pure"), [(1.0, "vector"), (0.0, "keyword")])
async def test_hybrid_at_an_alpha_extreme_is_the_pure_mode(store, tenant, alpha, pure):
    await rare_word_corpus(store, tenant)
    hybrid = await search(store, tenant, "u1", "zanzibar code", "hybrid", alpha=alpha)
    assert hybrid == await search(store, tenant, "u1", "zanzibar code", pure)


async def test_hybrid_without_query_words_is_vector_search(store, tenant):
    await rare_word_corpus(store, tenant)
    hybrid = await search(store, tenant, "u1", "the of", "hybrid")
    assert hybrid == await search(store, tenant, "u1", "the of", "vector")


async def test_upsert_is_idempotent_by_id(store, tenant):
    p = point(tenant, "u1", "first words", angle(0))
    await store.upsert([p])
    await store.upsert([p])
    assert await store.count() == 1
    changed = StorePoint(p.id, angle(40), ENCODER.document("second words"), {**p.payload, "v": 2})
    await store.upsert([changed])
    hits = await search(store, tenant, text="second", mode="keyword")
    assert ids(hits) == [p.id] and hits[0].payload["v"] == 2
    assert await store.count() == 1


async def test_a_point_without_a_dense_vector_is_found_by_its_words_only(store, tenant):
    dense = point(tenant, "u1", "the red kite over the hill", angle(0))
    sparse_only = replace(point(tenant, "u1", "a red balloon at the fair", angle(0)), dense=None)
    await store.upsert([dense, sparse_only])
    assert await store.count() == 2
    # Vector search does not see it; keyword search does, and hybrid fuses what each finds.
    assert ids(await search(store, tenant, text="red", mode="vector")) == [dense.id]
    assert ids(await search(store, tenant, text="balloon", mode="keyword")) == [sparse_only.id]
    assert set(ids(await search(store, tenant, text="red", mode="hybrid"))) == {
        dense.id,
        sparse_only.id,
    }


async def test_set_dense_gives_a_point_its_vector_and_keeps_the_rest(store, tenant):
    near = replace(point(tenant, "u1", "a red balloon at the fair", angle(0)), dense=None)
    far = point(tenant, "u1", "the red kite over the hill", angle(40))
    gone = replace(
        point(tenant, "u1", "deleted before its vector came", angle(0), memory_id="m-gone"),
        dense=None,
    )
    await store.upsert([near, far, gone])
    await store.delete_memory(tenant, "m-gone")
    # A point deleted meanwhile is skipped, and the others still get their vectors.
    await store.set_dense({near.id: angle(0), gone.id: angle(0)})
    assert ids(await search(store, tenant, mode="vector")) == [near.id, far.id]
    # Its words and payload are what they were.
    found = await search(store, tenant, text="balloon", mode="keyword")
    assert ids(found) == [near.id]
    assert found[0].payload["label"] == "a red balloon at the fair"
    await store.set_dense({})


async def test_delete_subject_removes_that_subject_only(store, tenant):
    gone = [point(tenant, "u1", "a", angle(0)), point(tenant, "u1", "b", angle(10))]
    kept = [point(tenant, "u2", "a", angle(0)), point(f"{tenant}-other", "u1", "a", angle(0))]
    await store.upsert([*gone, *kept])
    await store.delete_subject(tenant, "u1")
    assert await store.count() == 2
    assert await search(store, tenant, "u1") == []
    assert ids(await search(store, tenant, "u2")) == [kept[0].id]
    assert ids(await search(store, f"{tenant}-other", "u1")) == [kept[1].id]


async def test_points_survive_close_and_reopen(open_store, tenant):
    store = open_store()
    await store.ensure(DIM)
    fillers, rare = await rare_word_corpus(store, tenant)
    before = await search(store, tenant, "u1", "zanzibar", "hybrid")
    assert before[0].id == rare.id
    await store.close()
    store = open_store()
    await store.ensure(DIM)
    try:
        assert await store.count() == len(fillers) + 1
        assert await search(store, tenant, "u1", "zanzibar", "hybrid") == before
    finally:
        await store.close()


async def test_count_and_drop(store, tenant):
    await store.upsert([point(tenant, "u1", str(i), angle(i)) for i in range(5)])
    assert await store.count() == 5
    await store.drop()
    assert await store.count() == 0
    with pytest.raises(VectorStoreError):
        await search(store, tenant)
    await store.ensure(DIM)
    assert await store.count() == 0
    await store.upsert([point(tenant, "u1", "again", angle(0))])
    assert await store.count() == 1


async def test_another_dense_size_is_refused(open_store, tenant):
    store = open_store()
    await store.ensure(DIM)
    await store.upsert([point(tenant, "u1", "x", angle(0))])
    await store.close()
    store = open_store()
    try:
        with pytest.raises(VectorStoreError, match="rebuild"):
            await store.ensure(DIM + 1)
    finally:
        await store.close()


async def test_misuse_is_an_error_that_says_what_to_do(store, tenant):
    with pytest.raises(VectorStoreError, match="tenant_id"):
        await store.upsert([StorePoint(str(uuid.uuid4()), angle(0), None, {"user_id": "u1"})])
    with pytest.raises(VectorStoreError, match="alpha"):
        await search(store, tenant, mode="hybrid", alpha=1.5)
    with pytest.raises(VectorStoreError, match="dense"):
        await store.search(None, None, StoreFilter(tenant_id=tenant, user_id="u1"), 5)


async def test_a_store_is_unusable_before_ensure(open_store, tenant):
    store = open_store()
    try:
        with pytest.raises(VectorStoreError, match="ensure"):
            await search(store, tenant)
        with pytest.raises(VectorStoreError, match="ensure"):
            await store.upsert([point(tenant, "u1", "x", angle(0))])
    finally:
        await store.close()


async def test_an_edge_folder_has_one_owner(tmp_path):
    first = EdgeVectorStore(tmp_path / "one")
    await first.ensure(DIM)
    second = EdgeVectorStore(tmp_path / "one")
    try:
        with pytest.raises(VectorStoreError, match="another process"):
            await second.ensure(DIM)
    finally:
        await first.close()
    await second.ensure(DIM)  # once the owner has closed it, the folder opens
    await second.close()


async def test_both_engines_rank_alike(tmp_path, tenant):
    """Same points, same queries: the same ids in the same order, scores equal to 1e-4.

    Each text repeats "note" its own number of times, so no two scores tie: the engines
    order tied points differently.
    """
    stores = [opener(kind, str(tmp_path / kind))() for kind in ("edge", "client-local")]
    texts = [
        f"{FILLERS[i % 6]} {'note ' * (i + 1)}{'zanzibar' if i % 7 == 0 else ''}" for i in range(40)
    ]
    points = [point(tenant, f"u{i % 2}", t, angle(4 * i)) for i, t in enumerate(texts)]
    try:
        answers = []
        for store in stores:
            await store.ensure(DIM)
            await store.upsert(points)
            modes = [("vector", 0.5), ("keyword", 0.5), ("hybrid", 0.5), ("hybrid", 0.3)]
            answers.append(
                [
                    await search(store, tenant, "u0", "zanzibar note train", mode, 8, alpha)
                    for mode, alpha in modes
                ]
            )
        for edge, local in zip(*answers, strict=True):
            assert ids(edge) == ids(local)
            assert [h.score for h in edge] == pytest.approx([h.score for h in local], abs=1e-4)
    finally:
        for store in stores:
            await store.close()
