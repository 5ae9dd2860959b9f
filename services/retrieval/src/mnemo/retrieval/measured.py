"""An embedder whose every call is timed and counted (mnemo_embedding_duration_seconds,
mnemo_embedded_texts_total), by phase: the foreground one (indexing without phase 2,
queries) or phase 2's own copy in the background."""

from collections.abc import Sequence

from mnemo.embeddings import Embedder, is_local
from mnemo.telemetry.metrics import EMBEDDED_TEXTS, EMBEDDING_DURATION


class MeasuredEmbedder:
    """Delegates to `inner`; only adds the measurements."""

    def __init__(self, inner: Embedder, phase: str) -> None:
        self._inner = inner
        self._duration = EMBEDDING_DURATION.labels(phase)
        self._texts = EMBEDDED_TEXTS.labels(phase)

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def local(self) -> bool:
        return is_local(self._inner)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self._duration.time():
            vectors = self._inner.embed(texts)
        self._texts.inc(len(texts))
        return vectors
