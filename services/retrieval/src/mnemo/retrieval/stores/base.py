"""What the retrieval service needs from a vector engine, whichever engine holds the vectors.

A store keeps points (a memory chunk: a dense vector, which may come later, an optional
sparse vector, a payload) and answers tenant- and subject-scoped searches by dense
similarity ("vector"), sparse term match ("keyword") or both fused ("hybrid"). Its
implementations live beside this module and pass one shared test suite.
"""

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SearchMode = Literal["vector", "keyword", "hybrid"]

DENSE = "dense"
SPARSE = "sparse"

# Qdrant's own default for reciprocal rank fusion. A small k keeps the head of each list
# decisive, so `alpha` visibly moves a ranking; with the textbook k=60 a point found by
# both lists beats every other, whatever the weights.
RRF_K = 2
# Hybrid mode fuses two lists of `limit * PREFETCH_FACTOR` points each, so a point ranked
# modestly by both lists still meets itself in the fusion.
PREFETCH_FACTOR = 4

# Payload fields that filters match exactly, and the numeric (epoch seconds) ones they
# bound; engines that can index payload index these.
# `source_id` is matched too (StoreFilter), unindexed: it narrows one subject's points, and
# a qdrant-edge index on it changed hybrid rankings of unfiltered searches (seen in
# tests/e2e/test_sdk_anansi.py's main flow), so it is left out until that is understood.
KEYWORD_FIELDS = ("tenant_id", "user_id", "source_type", "session_id", "agent_id")
TIME_FIELDS = ("occurred_ts", "recorded_ts")


class VectorStoreError(Exception):
    """The store cannot do what was asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class SparseVector:
    """Term ids and their weights (see `mnemo.retrieval.stores.sparse`)."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True, slots=True)
class StorePoint:
    """One searchable chunk. `payload` must name its `tenant_id` and `user_id`; it may carry
    `occurred_ts` / `recorded_ts` (epoch seconds, float) for the time filters.

    A point without `dense` is found by keyword (and by the sparse side of hybrid), never
    by vector, until `set_dense` gives it one."""

    id: str  # a UUID: both engines take UUIDs or integers only
    dense: list[float] | None
    sparse: SparseVector | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Match:
    """The payload field `key` equals `value`."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class AtOrBefore:
    """The payload field `key` is at most `value`; points without the field never match."""

    key: str
    value: float


@dataclass(frozen=True, slots=True)
class AtOrAfter:
    """The payload field `key` is at least `value`; points without the field never match."""

    key: str
    value: float


Condition = Match | AtOrBefore | AtOrAfter


@dataclass(frozen=True, slots=True)
class StoreFilter:
    """Which points a search may return: always one tenant's, of one subject or (without a
    subject) of one agent, maybe narrower.

    `occurred_before` / `recorded_before` are inclusive bounds in epoch seconds, so
    "as of T" includes what happened (or was recorded) at T itself; `occurred_after` is
    the inclusive lower bound of valid time (a span a query names).
    """

    tenant_id: str
    user_id: str | None
    source_type: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    source_id: str | None = None
    occurred_before: float | None = None
    recorded_before: float | None = None
    occurred_after: float | None = None

    def scope(self) -> list[Condition]:
        """The subject's own points (or the agent's, without a subject; or the session's,
        without either: a search scoped by its session alone): what `delete_subject`
        removes, and the ground of `corpus`."""
        if self.user_id is not None:
            return [Match("tenant_id", self.tenant_id), Match("user_id", self.user_id)]
        if self.agent_id is not None:
            return [Match("tenant_id", self.tenant_id), Match("agent_id", self.agent_id)]
        if self.session_id is None:
            raise VectorStoreError("a filter needs a user_id, an agent_id or a session_id")
        return [Match("tenant_id", self.tenant_id), Match("session_id", self.session_id)]

    def corpus(self) -> list[Condition]:
        """The points whose words weigh on a keyword score (the sparse IDF): the scope, and
        within it only the agent's when the search is one agent's. Counting another
        agent's points would let a score tell how often that agent's memories of the user
        say a word (an agent key sees its own agent's memories only)."""
        conditions = self.scope()
        if self.user_id is not None and self.agent_id is not None:
            conditions.append(Match("agent_id", self.agent_id))
        return conditions

    def conditions(self) -> list[Condition]:
        """Every condition, all of which a point must meet."""
        conditions = self.scope()
        for key in ("source_type", "session_id", "agent_id", "source_id"):
            value = getattr(self, key)
            if value is not None:
                conditions.append(Match(key, value))
        if self.occurred_before is not None:
            conditions.append(AtOrBefore("occurred_ts", self.occurred_before))
        if self.recorded_before is not None:
            conditions.append(AtOrBefore("recorded_ts", self.recorded_before))
        if self.occurred_after is not None:
            conditions.append(AtOrAfter("occurred_ts", self.occurred_after))
        return conditions


@dataclass(frozen=True, slots=True)
class StoreHit:
    id: str
    score: float
    payload: dict[str, Any]


class VectorStore(Protocol):
    """One collection of points in one engine. Call `ensure` before anything else."""

    async def ensure(self, dense_dim: int) -> None:
        """Create the collection if missing; fail if it exists with another dense size."""

    async def upsert(self, points: list[StorePoint]) -> None:
        """Insert or replace points by id: upserting the same point twice keeps one."""

    async def set_dense(self, vectors: dict[str, list[float]]) -> None:
        """Give stored points (by id) their dense vector, leaving sparse vector and payload
        as they are; ids no longer stored (deleted meanwhile) are skipped."""

    async def delete_subject(self, tenant_id: str, user_id: str) -> None:
        """Remove every point of one subject of one tenant, and nothing else."""

    async def delete_memory(self, tenant_id: str, memory_id: str) -> None:
        """Remove every point (chunk) of one memory of one tenant, and nothing else."""

    async def search(
        self,
        dense: list[float] | None,
        sparse: SparseVector | None,
        filter: StoreFilter,
        limit: int,
        mode: SearchMode = "vector",
        alpha: float = 0.5,
    ) -> list[StoreHit]:
        """The best `limit` points that pass `filter`, best first.

        "vector" ranks by cosine of `dense`; "keyword" by `sparse` dot product with IDF
        computed over the subject's own points; "hybrid" fuses both rankings by weighted
        reciprocal rank fusion, `alpha` being the dense weight (1: vector, 0: keyword).
        """

    async def count(self) -> int:
        """Points in the collection (0 when it does not exist)."""

    async def compact(self) -> None:
        """Leave nothing of deleted points in the store's own files (after a forget)."""

    async def drop(self) -> None:
        """Delete the collection and its points; `ensure` makes it anew."""

    async def close(self) -> None:
        """Release the engine; the points stay where they are stored."""


def resolve_mode(
    mode: SearchMode,
    dense: list[float] | None,
    sparse: SparseVector | None,
    limit: int,
    alpha: float,
) -> SearchMode | None:
    """The ranking a search really needs, or None when nothing can match.

    Hybrid at an alpha extreme is exactly the pure mode, and hybrid without one of its
    vectors is the other one: a query of stopwords only still finds by meaning.
    """
    if limit < 1:
        raise VectorStoreError(f"limit must be at least 1; got {limit}")
    if not 0.0 <= alpha <= 1.0:
        raise VectorStoreError(f"alpha must be within [0, 1]; got {alpha}")
    has_sparse = sparse is not None and len(sparse.indices) > 0
    if mode == "hybrid":
        if alpha >= 1.0 or not has_sparse:
            mode = "vector"
        elif alpha <= 0.0 or dense is None:
            mode = "keyword"
    if mode == "vector" and dense is None:
        raise VectorStoreError("a vector search needs a dense query vector")
    if mode == "keyword" and not has_sparse:
        return None
    if mode not in ("vector", "keyword", "hybrid"):
        raise VectorStoreError(f"mode must be vector, keyword or hybrid; got {mode!r}")
    return mode


def rrf_weights(alpha: float) -> list[float]:
    """Weights of the dense and the sparse list in the fusion."""
    return [alpha, 1.0 - alpha]


def check_points(points: list[StorePoint]) -> None:
    """Refuse points no filter could ever scope to a tenant and a subject."""
    for point in points:
        for key in ("tenant_id", "user_id"):
            if not isinstance(point.payload.get(key), str) or not point.payload[key]:
                raise VectorStoreError(f"point {point.id} needs a non-empty {key} in its payload")
