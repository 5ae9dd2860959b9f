"""A feature-hashing embedder: deterministic, offline, no model, near-free.

For tests and development that need vectors but not meaning: words and word pairs are
hashed into a fixed number of signed buckets and the vector is L2-normalised, so texts
that share words are close under cosine similarity. Ported unchanged from the retrieval
service's stand-in, so vectors it already stored stay comparable.
"""

import hashlib
import itertools
import math
import re
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+")

NAME = "hashing-v1"


class HashingEmbedder:
    """Bag of hashed words and word pairs; `name` carries `dim`, since it changes vectors."""

    local = True

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"{NAME}-{dim}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text; a text without words maps to the first axis."""
        return [self.embed_one(text) for text in texts]

    def embed_one(self, text: str) -> list[float]:
        words = _WORD.findall(text.lower())
        features = words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]
        vector = [0.0] * self.dim
        for feature in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return [v / norm for v in vector]
