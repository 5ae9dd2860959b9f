"""The Qdrant projection of recorded memories: one point per memory, tenant-scoped."""

from datetime import datetime

from qdrant_client import AsyncQdrantClient, models

from mnemo.contracts import Envelope, MemoryRecorded, SearchHit, SearchQuery, derived_id
from mnemo.retrieval.embedder import HashingEmbedder

SEARCHABLE_METADATA = ("title", "author", "actionType", "resourceType")


class MemoryIndex:
    def __init__(
        self, client: AsyncQdrantClient, collection: str, embedder: HashingEmbedder
    ) -> None:
        self._client = client
        self._collection = collection
        self._embedder = embedder

    async def ensure(self) -> None:
        if await self._client.collection_exists(self._collection):
            return
        await self._client.create_collection(
            self._collection,
            vectors_config=models.VectorParams(
                size=self._embedder.dim, distance=models.Distance.COSINE
            ),
        )
        if (
            self._client.init_options.get("path") is None
            and self._client.init_options.get("location") != ":memory:"
        ):
            # Only a Qdrant server uses payload indexes; the embedded engine scans anyway.
            for field in ("tenant_id", "user_id", "source_type"):
                await self._client.create_payload_index(
                    self._collection, field, models.PayloadSchemaType.KEYWORD
                )

    async def drop(self) -> None:
        await self._client.delete_collection(self._collection)

    async def index(self, envelope: Envelope) -> None:
        """Upsert the memory's points; the same memory indexed twice is still the same points."""
        await self.index_all([envelope])

    async def index_all(self, envelopes: list[Envelope]) -> None:
        """Upsert every chunk of many memories in one call."""
        points = [point for e in envelopes for point in self._points(e)]
        if points:
            await self._client.upsert(self._collection, points=points)

    def _points(self, envelope: Envelope) -> list[models.PointStruct]:
        """One point per chunk, its id derived from the memory id and the chunk's index."""
        memory = envelope.data
        assert isinstance(memory, MemoryRecorded)
        common = {
            "tenant_id": envelope.tenant_id,
            "user_id": memory.user_id,
            "memory_id": memory.memory_id,
            "event_id": envelope.event_id,
            "source_type": memory.source_type,
            "session_id": memory.session_id,
            "agent_id": memory.agent_id,
            "source_id": memory.source_id,
            "metadata": memory.metadata,
            "occurred_at": envelope.occurred_at.isoformat(),
            "recorded_at": envelope.recorded_at.isoformat(),
            "occurred_ts": envelope.occurred_at.timestamp(),
            "recorded_ts": envelope.recorded_at.timestamp(),
            "embedding_model": self._embedder.name,
            "chunks": len(memory.chunk_spans()),
        }
        points = []
        # Recognised metadata that names the memory is searchable along with its words.
        heading = " ".join(
            str(memory.metadata[k]) for k in SEARCHABLE_METADATA if memory.metadata.get(k)
        )
        for span in memory.chunk_spans():
            text = memory.content[span.start : span.end]
            payload = {
                **common,
                "content": text,
                "chunk_index": span.index,
                "chunk_start": span.start,
                "chunk_end": span.end,
            }
            point_id = (
                memory.memory_id
                if span.index == 0
                else derived_id(memory.memory_id, str(span.index))
            )
            points.append(
                models.PointStruct(
                    id=point_id,
                    vector=self._embedder.embed(f"{heading}\n{text}" if heading else text),
                    payload=payload,
                )
            )
        return points

    async def forget(self, tenant_id: str, user_id: str) -> None:
        await self._client.delete(
            self._collection,
            points_selector=models.FilterSelector(
                filter=models.Filter(
                    must=[
                        models.FieldCondition(
                            key="tenant_id", match=models.MatchValue(value=tenant_id)
                        ),
                        models.FieldCondition(
                            key="user_id", match=models.MatchValue(value=user_id)
                        ),
                    ]
                )
            ),
        )

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        must = [
            models.FieldCondition(key="tenant_id", match=models.MatchValue(value=query.tenant_id)),
            models.FieldCondition(key="user_id", match=models.MatchValue(value=query.user_id)),
        ]
        for key, bound in (
            ("occurred_ts", query.occurred_before),
            ("recorded_ts", query.recorded_before),
        ):
            if bound is not None:
                must.append(
                    models.FieldCondition(key=key, range=models.Range(lte=bound.timestamp()))
                )
        for key, wanted in (
            ("source_type", query.source_type),
            ("session_id", query.session_id),
            ("agent_id", query.agent_id),
        ):
            if wanted:
                must.append(models.FieldCondition(key=key, match=models.MatchValue(value=wanted)))
        response = await self._client.query_points(
            self._collection,
            query=self._embedder.embed(query.query),
            query_filter=models.Filter(must=must),  # type: ignore[arg-type]
            limit=query.limit,
            with_payload=True,
            score_threshold=query.threshold,
        )
        hits = []
        for point in response.points:
            p = point.payload or {}
            metadata = dict(p.get("metadata") or {})
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
            hits.append(
                SearchHit(
                    memory_id=p["memory_id"],
                    content=p["content"],
                    similarity=round(float(point.score), 6),
                    source_type=p["source_type"],
                    ingested_at=datetime.fromisoformat(p["recorded_at"]),
                    metadata=metadata,
                    source_id=p.get("source_id"),
                )
            )
        return hits
