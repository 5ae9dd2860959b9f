"""Retrieval settings, from MNEMO_* environment variables."""

from mnemo.settings import DatabaseSettings


class RetrievalSettings(DatabaseSettings, kw_only=True, frozen=True):
    # MNEMO_QDRANT_URL: a Qdrant server; when unset, Qdrant runs embedded at MNEMO_QDRANT_PATH.
    qdrant_url: str | None = None
    # MNEMO_QDRANT_API_KEY: API key for the Qdrant server, if it needs one.
    qdrant_api_key: str | None = None
    # MNEMO_QDRANT_PATH: folder of the embedded Qdrant (one process per folder).
    qdrant_path: str = ".mnemo/qdrant"
    # MNEMO_EMBEDDING_DIM: size of the hashing embedder's vectors.
    embedding_dim: int = 256
