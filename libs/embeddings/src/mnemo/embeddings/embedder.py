"""What every embedder offers, so callers can swap a local model for a remote API.

Vectors are compared by cosine similarity downstream; every embedder returns unit-length
vectors so that a plain dot product is that similarity, whichever embedder made them.
"""

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns texts into fixed-length, L2-normalised vectors, many at a time."""

    # Read-only properties, so that a plain attribute and a lazily learned value both fit.
    @property
    def name(self) -> str:
        """The model's name, stored with every vector: vectors of different models never mix."""
        ...

    @property
    def dim(self) -> int:
        """The length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector of length `dim` per text, in the order of `texts`."""
        ...


# An embedder may say `local = True`: a call is short work on this machine's CPU (no
# network), so a query's one text may be embedded on the caller's own thread. Read with
# `is_local`: an embedder that does not say is treated as remote.
def is_local(embedder: object) -> bool:
    """Whether `embedder` says its calls are local CPU work (see above)."""
    return bool(getattr(embedder, "local", False))


class EmbeddingError(Exception):
    """An embedder could not turn texts into vectors; the message says what to check."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        # The HTTP status of a remote embedding API's answer, when there was one.
        self.status = status


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Scale each row of a 2-d float array to length 1, in place; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.where(norms == 0, 1, norms).astype(matrix.dtype)
    return matrix
