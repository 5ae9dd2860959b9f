"""Vector stores: one `VectorStore` protocol, two engines behind it.

- `EdgeVectorStore` — qdrant-edge, Qdrant's engine embedded in the process (one folder,
  one owner): the single-machine default.
- `QdrantClientStore` — qdrant-client: a Qdrant server (shared by replicas), or the
  client's pure-Python local mode.
- `SparseEncoder` — the BM25-style sparse vectors both index for keyword search.
"""

from mnemo.retrieval.stores.base import (
    SearchMode,
    SparseVector,
    StoreFilter,
    StoreHit,
    StorePoint,
    VectorStore,
    VectorStoreError,
)
from mnemo.retrieval.stores.client import QdrantClientStore
from mnemo.retrieval.stores.edge import EdgeVectorStore
from mnemo.retrieval.stores.sparse import SparseEncoder

__all__ = [
    "EdgeVectorStore",
    "QdrantClientStore",
    "SearchMode",
    "SparseEncoder",
    "SparseVector",
    "StoreFilter",
    "StoreHit",
    "StorePoint",
    "VectorStore",
    "VectorStoreError",
]
