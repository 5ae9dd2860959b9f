"""What retrieval does: index each recorded memory (then say so), answer searches."""

from mnemo.bus import Delivery, Publisher
from mnemo.contracts import (
    Envelope,
    MemoryRecorded,
    QueryError,
    SearchQuery,
    SearchResult,
    Signal,
    derived_id,
    utcnow,
)
from mnemo.retrieval.index import MemoryIndex
from mnemo.telemetry import get_logger

log = get_logger(__name__)

SERVICE = "retrieval"
MAX_LIMIT = 50


class RetrievalHandlers:
    def __init__(self, index: MemoryIndex, publisher: Publisher) -> None:
        self._index = index
        self._publisher = publisher

    async def memory_recorded(self, delivery: Delivery) -> None:
        envelope: Envelope = delivery.decode(Envelope)
        if not isinstance(envelope.data, MemoryRecorded):
            return
        await self._index.index(envelope)
        # The index signal is what makes "accepted -> searchable" visible in the audit.
        await self._publisher.publish_signal(
            Signal(
                signal_id=derived_id(envelope.event_id, "memory.indexed"),
                signal_type="memory.indexed",
                tenant_id=envelope.tenant_id,
                service=SERVICE,
                occurred_at=utcnow(),
                correlation_id=envelope.correlation_id,
                causation_id=envelope.event_id,
                data={
                    "memory_id": envelope.data.memory_id,
                    "lag_ms": int((utcnow() - envelope.recorded_at).total_seconds() * 1000),
                },
            )
        )
        log.info("memory_indexed", memory_id=envelope.data.memory_id)

    async def search(self, query: SearchQuery) -> SearchResult | QueryError:
        if not 1 <= query.limit <= MAX_LIMIT:
            return QueryError(
                code="invalid", message=f"limit must be 1..{MAX_LIMIT}", field="limit"
            )
        return SearchResult(results=await self._index.search(query))
