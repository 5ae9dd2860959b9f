"""Retrieval settings, from MNEMO_* environment variables."""

from mnemo.embeddings.minilm import PRECISIONS
from mnemo.settings import DatabaseSettings
from mnemo.settings.urls import HTTP, check_url


class RetrievalSettings(DatabaseSettings, kw_only=True, frozen=True):
    # MNEMO_QDRANT_URL: a Qdrant server (shared by replicas); overrides MNEMO_VECTOR_STORE.
    qdrant_url: str | None = None
    # MNEMO_QDRANT_API_KEY: API key for the Qdrant server, if it needs one.
    qdrant_api_key: str | None = None
    # MNEMO_VECTOR_STORE: the embedded engine: "edge" (qdrant-edge) or "qdrant-local"
    # (qdrant-client's pure-Python local mode).
    vector_store: str = "edge"
    # MNEMO_QDRANT_PATH: folder of the embedded engine (one process per folder).
    qdrant_path: str = ".mnemo/qdrant"
    # MNEMO_EMBEDDER: "minilm" (all-MiniLM-L6-v2, offline), "openai" (any OpenAI-compatible
    # /v1/embeddings server) or "hashing" (no meaning; for tests).
    embedder: str = "minilm"
    # MNEMO_EMBEDDING_PRECISION: MiniLM's arithmetic, "int8" (its matmuls quantized: 1.5x
    # the texts per CPU second for the same LoCoMo recall, see mnemo.embeddings.minilm) or
    # "float32" (the reference model's vectors). A change re-indexes from the log.
    embedding_precision: str = "int8"
    # MNEMO_EMBEDDING_URL / _MODEL / _API_KEY: the server, model and key for "openai".
    embedding_url: str | None = None
    embedding_model: str | None = None
    embedding_api_key: str | None = None
    # MNEMO_EMBEDDING_DIM: vector size for "hashing" (and "openai" when known in advance).
    embedding_dim: int | None = None
    # MNEMO_DENSE_THREADS: threads phase 2 embeds on, at idle priority (MiniLM; unset: the
    # cores, up to 4). Fewer leave searches more of the cores while ingest runs, and
    # memories take longer to become searchable by meaning (README, "CPU per ingested
    # memory").
    dense_threads: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.qdrant_url:
            check_url("MNEMO_QDRANT_URL", self.qdrant_url, HTTP)
        if self.embedding_url:
            check_url("MNEMO_EMBEDDING_URL", self.embedding_url, HTTP)
        if not self.qdrant_path.strip():
            raise ValueError("MNEMO_QDRANT_PATH is set but empty")
        if self.vector_store not in ("edge", "qdrant-local"):
            raise ValueError("MNEMO_VECTOR_STORE must be edge or qdrant-local")
        if self.embedder not in ("minilm", "openai", "hashing"):
            raise ValueError("MNEMO_EMBEDDER must be minilm, openai or hashing")
        if self.dense_threads is not None and self.dense_threads < 1:
            raise ValueError("MNEMO_DENSE_THREADS must be at least 1")
        if self.embedding_dim is not None and self.embedding_dim < 1:
            raise ValueError("MNEMO_EMBEDDING_DIM must be at least 1")
        if self.embedding_precision not in PRECISIONS:
            raise ValueError(f"MNEMO_EMBEDDING_PRECISION must be one of {', '.join(PRECISIONS)}")
        if self.embedder == "openai" and not (self.embedding_url and self.embedding_model):
            raise ValueError(
                "MNEMO_EMBEDDER=openai needs MNEMO_EMBEDDING_URL and MNEMO_EMBEDDING_MODEL"
            )
