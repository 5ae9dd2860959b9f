"""Turning texts into vectors for semantic search, behind one small interface.

Exports the `Embedder` protocol (`name`, `dim`, batched `embed` returning unit vectors),
its three implementations — `MiniLMEmbedder` (all-MiniLM-L6-v2 run offline in onnxruntime
or numpy, no torch), `OpenAICompatibleEmbedder` (any `POST /v1/embeddings` server) and
`HashingEmbedder` (feature hashing, for tests) — `embedder_from_settings` to pick one by
name, `EmbeddingError`, and `is_local` (whether an embedder's calls are local CPU work).
"""

from mnemo.embeddings.embedder import Embedder, EmbeddingError, is_local
from mnemo.embeddings.factory import KINDS, embedder_from_settings
from mnemo.embeddings.hashing import HashingEmbedder
from mnemo.embeddings.minilm import MiniLMEmbedder
from mnemo.embeddings.openai_compatible import OpenAICompatibleEmbedder

__all__ = [
    "KINDS",
    "Embedder",
    "EmbeddingError",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "OpenAICompatibleEmbedder",
    "embedder_from_settings",
    "is_local",
]
