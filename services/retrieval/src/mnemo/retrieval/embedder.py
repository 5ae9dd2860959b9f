"""A feature-hashing embedder: deterministic, offline, no model download.

A stand-in until the real sentence-embedding model lands: words and word pairs are
hashed into a fixed number of signed buckets and the vector is L2-normalised, so
texts that share words are close under cosine similarity.
"""

import hashlib
import itertools
import math
import re

_WORD = re.compile(r"[a-z0-9]+")

NAME = "hashing-v1"


class HashingEmbedder:
    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"{NAME}-{dim}"

    def embed(self, text: str) -> list[float]:
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
