"""Reciprocal rank fusion of two rankings of the same search, in the index (the store fuses
its dense and sparse lists itself).

Used where a second search, narrower or asked otherwise, ranks the same points again: a
point both find rises above those only one finds, and each list's head stays near the
head. Its constant is the textbook one (Cormack et al., 2009), not one fitted here.
"""

from dataclasses import replace

from mnemo.retrieval.stores import StoreHit

FUSION_K = 60


def fuse(first: list[StoreHit], second: list[StoreHit], k: int = FUSION_K) -> list[StoreHit]:
    """Both lists' hits by reciprocal rank fusion, best first (ties: the first list's
    order); a hit's score is its fused score."""
    scores: dict[str, float] = {}
    found: dict[str, StoreHit] = {}
    for hits in (first, second):
        for rank, hit in enumerate(hits, 1):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (k + rank)
            found.setdefault(hit.id, hit)
    ordered = sorted(scores, key=lambda i: -scores[i])
    return [replace(found[i], score=scores[i]) for i in ordered]
