"""The vector store behind qdrant-client: a Qdrant server, or the client's local mode.

With `AsyncQdrantClient(url=...)` this is the store that scales out: any number of
retrieval replicas share one collection. With `AsyncQdrantClient(path=...)` the client
runs Qdrant's semantics in pure Python (brute force, numpy): right for tests, slow past a
few thousand points, and one process per folder (a lock file).
"""

from qdrant_client import AsyncQdrantClient, models

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


class QdrantClientStore:
    """A `VectorStore` in the collection `collection`; it owns `client` and closes it."""

    def __init__(self, client: AsyncQdrantClient, collection: str) -> None:
        self._client = client
        self._collection = collection
        self._ready = False

    @property
    def _is_server(self) -> bool:
        options = self._client.init_options
        return options.get("path") is None and options.get("location") != ":memory:"

    async def ensure(self, dense_dim: int) -> None:
        if not await self._client.collection_exists(self._collection):
            try:
                await self._client.create_collection(
                    self._collection,
                    vectors_config={
                        DENSE: models.VectorParams(size=dense_dim, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={
                        SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                )
            except Exception:
                # Another replica may have made it meanwhile; anything else is a real failure.
                if not await self._client.collection_exists(self._collection):
                    raise
        await self._check_layout(dense_dim)
        if self._is_server:
            # Only a server uses payload indexes (local mode scans); making one twice is a no-op.
            for key in KEYWORD_FIELDS:
                schema: models.PayloadSchemaType | models.KeywordIndexParams = (
                    models.KeywordIndexParams(
                        type=models.KeywordIndexType.KEYWORD, is_tenant=key == "tenant_id"
                    )
                )
                await self._client.create_payload_index(self._collection, key, schema)
            for key in TIME_FIELDS:
                await self._client.create_payload_index(
                    self._collection, key, models.PayloadSchemaType.FLOAT
                )
        self._ready = True

    async def _check_layout(self, dense_dim: int) -> None:
        params = (await self._client.get_collection(self._collection)).config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {}
        sparse = params.sparse_vectors or {}
        dense = vectors.get(DENSE)
        if dense is None or dense.size != dense_dim or SPARSE not in sparse:
            raise VectorStoreError(
                f"the Qdrant collection {self._collection} was made for other vectors than "
                f"{dense_dim}-d '{DENSE}' + '{SPARSE}'; drop it and rebuild the projection "
                "from the log"
            )

    async def compact(self) -> None:
        """Nothing here: a Qdrant server vacuums deleted points with its own optimizer
        (its `deleted_threshold`), and its WAL and snapshots are the operator's. The
        client's local mode (for development) is not compacted."""

    async def upsert(self, points: list[StorePoint]) -> None:
        self._check_ready()
        check_points(points)
        if points:
            await self._client.upsert(self._collection, points=[_point(p) for p in points])

    async def set_dense(self, vectors: dict[str, list[float]]) -> None:
        self._check_ready()
        if not vectors:
            return

        async def update(ids: list[str]) -> None:
            points = [models.PointVectors(id=i, vector={DENSE: vectors[i]}) for i in ids]
            await self._client.update_vectors(self._collection, points=points)

        try:
            await update(list(vectors))
        except Exception:
            # One point deleted meanwhile fails the batch: update those still stored.
            found = await self._client.retrieve(
                self._collection, list(vectors), with_payload=False, with_vectors=False
            )
            stored = {str(r.id) for r in found}
            if stored >= set(vectors):
                raise
            await update([i for i in vectors if i in stored])

    async def delete_subject(self, tenant_id: str, user_id: str) -> None:
        self._check_ready()
        subject = _filter(StoreFilter(tenant_id=tenant_id, user_id=user_id).scope())
        await self._client.delete(
            self._collection, points_selector=models.FilterSelector(filter=subject)
        )

    async def delete_memory(self, tenant_id: str, memory_id: str) -> None:
        self._check_ready()
        memory = _filter([Match("tenant_id", tenant_id), Match("memory_id", memory_id)])
        await self._client.delete(
            self._collection, points_selector=models.FilterSelector(filter=memory)
        )

    async def search(
        self,
        dense: list[float] | None,
        sparse: SparseVector | None,
        filter: StoreFilter,
        limit: int,
        mode: SearchMode = "vector",
        alpha: float = 0.5,
    ) -> list[StoreHit]:
        self._check_ready()
        mode_ = resolve_mode(mode, dense, sparse, limit, alpha)
        if mode_ is None:
            return []
        where = _filter(filter.conditions())
        # IDF over the points the asker may see: no other tenant's or agent's words weigh on it.
        idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=_filter(filter.corpus())))
        if mode_ == "vector":
            response = await self._client.query_points(
                self._collection,
                query=dense,
                using=DENSE,
                query_filter=where,
                limit=limit,
                with_payload=True,
            )
        elif mode_ == "keyword":
            assert sparse is not None
            response = await self._client.query_points(
                self._collection,
                query=_sparse(sparse),
                using=SPARSE,
                query_filter=where,
                search_params=idf,
                limit=limit,
                with_payload=True,
            )
        else:
            assert sparse is not None
            depth = limit * PREFETCH_FACTOR
            response = await self._client.query_points(
                self._collection,
                prefetch=[
                    models.Prefetch(query=dense, using=DENSE, filter=where, limit=depth),
                    models.Prefetch(
                        query=_sparse(sparse), using=SPARSE, filter=where, limit=depth, params=idf
                    ),
                ],
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=rrf_weights(alpha))),
                query_filter=where,
                limit=limit,
                with_payload=True,
            )
        return [StoreHit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    async def count(self) -> int:
        if not await self._client.collection_exists(self._collection):
            return 0
        return (await self._client.count(self._collection, exact=True)).count

    async def drop(self) -> None:
        self._ready = False
        await self._client.delete_collection(self._collection)

    async def close(self) -> None:
        self._ready = False
        await self._client.close()

    def _check_ready(self) -> None:
        if not self._ready:
            raise VectorStoreError(
                f"the Qdrant collection {self._collection} is not open: call ensure()"
            )


def _point(point: StorePoint) -> models.PointStruct:
    vectors: dict[str, list[float] | models.SparseVector] = {}
    if point.dense is not None:
        vectors[DENSE] = point.dense
    if point.sparse is not None and point.sparse.indices:
        vectors[SPARSE] = _sparse(point.sparse)
    return models.PointStruct(id=point.id, vector=vectors, payload=point.payload)  # type: ignore[arg-type]


def _sparse(sparse: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=sparse.indices, values=sparse.values)


def _filter(conditions: list[Condition]) -> models.Filter:
    must: list[models.Condition] = []
    for c in conditions:
        if isinstance(c, Match):
            must.append(models.FieldCondition(key=c.key, match=models.MatchValue(value=c.value)))
        elif isinstance(c, AtOrAfter):
            must.append(models.FieldCondition(key=c.key, range=models.Range(gte=c.value)))
        else:
            must.append(models.FieldCondition(key=c.key, range=models.Range(lte=c.value)))
    return models.Filter(must=must)
