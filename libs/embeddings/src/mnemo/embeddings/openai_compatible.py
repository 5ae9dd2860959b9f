"""Embeddings from any server that speaks OpenAI's `POST /v1/embeddings`.

Covers hosted APIs and self-hosted servers (vLLM, llama.cpp, Ollama, TEI) alike. Only
answers that may succeed when asked again (5xx, lost connections, time-outs) are
retried, a bounded number of times with backoff and a logged warning; a 4xx is the
caller's mistake (key, model name, input size) and fails at once with the server's reason.
"""

import logging
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from mnemo.embeddings.embedder import EmbeddingError, unit_rows
from mnemo.telemetry import log_retry

logger = logging.getLogger(__name__)

# OpenAI accepts up to 2048 inputs a request, self-hosted servers often far fewer.
MAX_BATCH = 128


class _Transient(Exception):
    """A 5xx answer: worth asking again."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, _Transient | httpx.TransportError)


class OpenAICompatibleEmbedder:
    """Vectors from a remote model; `dim` is learned from the first answer if not given."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dim: int | None = None,
        timeout: float = 30,
        *,
        attempts: int = 4,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.name = model
        self._dim = dim
        # Accept both "http://host" and "http://host/v1", as clients of these APIs do.
        root = base_url.rstrip("/").removesuffix("/v1")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=root, headers=headers, timeout=timeout)
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=backoff_seconds, max=30),
            retry=retry_if_exception(_is_transient),
            before_sleep=log_retry(logger, "embedding request"),
            reraise=True,
        )

    @property
    def dim(self) -> int:
        """The model's vector length; asks the server with a one-word input if not known."""
        if self._dim is None:
            self.embed(["dimension"])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order; at most MAX_BATCH texts per request."""
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not one str")
        vectors: list[list[float]] = []
        for start in range(0, len(texts), MAX_BATCH):
            batch = list(texts[start : start + MAX_BATCH])
            try:
                body = self._retrying(self._post, batch)
            except _Transient as error:
                raise EmbeddingError(str(error), status=error.status) from error
            except httpx.TransportError as error:
                raise EmbeddingError(
                    f"embedding server {self._client.base_url} unreachable: {error!r}"
                ) from error
            vectors.extend(self._vectors(body, len(batch)))
        return vectors

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._client.close()

    def _post(self, batch: list[str]) -> Any:
        response = self._client.post("/v1/embeddings", json={"model": self.name, "input": batch})
        where = f"POST {response.request.url} for model {self.name!r}"
        if response.status_code >= 500:
            raise _Transient(
                f"{where} answered {response.status_code}: {response.text[:300]}",
                response.status_code,
            )
        if response.status_code >= 400:
            raise EmbeddingError(
                f"{where} answered {response.status_code} (check the URL, API key, model "
                f"name and input size): {response.text[:300]}",
                status=response.status_code,
            )
        try:
            return response.json()
        except ValueError as error:
            raise EmbeddingError(f"{where} answered something that is not JSON") from error

    def _vectors(self, body: Any, expected: int) -> list[list[float]]:
        """The answer's vectors in input order (by `index`), checked and normalised."""
        try:
            items = sorted(body["data"], key=lambda item: item["index"])
            matrix = np.array([item["embedding"] for item in items], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as error:
            raise EmbeddingError(f"not an embeddings answer from model {self.name!r}") from error
        if len(items) != expected or [item["index"] for item in items] != list(range(expected)):
            raise EmbeddingError(
                f"model {self.name!r} answered {len(items)} vectors for {expected} inputs, "
                f"or indexes that skip or repeat"
            )
        if matrix.ndim != 2 or matrix.shape[1] == 0:
            raise EmbeddingError(f"model {self.name!r} answered empty vectors")
        if self._dim is None:
            self._dim = matrix.shape[1]
        elif matrix.shape[1] != self._dim:
            raise EmbeddingError(
                f"model {self.name!r} answered {matrix.shape[1]}-d vectors, expected {self._dim}"
            )
        return unit_rows(matrix).tolist()
