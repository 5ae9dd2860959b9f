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
    """Both lists' hits in the order of their reciprocal rank fusion (ties: the first
    list's order).

    The scores shown stay the first list's own, in descending order down the fused list:
    fusion moves hits, not what a similarity means, so a threshold keeps as many hits as
    it would have kept of the first list. Past the first list's length (hits only the
    second found), a hit keeps its own score, never above the one before it."""
    fused: dict[str, float] = {}
    found: dict[str, StoreHit] = {}
    for hits in (first, second):
        for rank, hit in enumerate(hits, 1):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (k + rank)
            found.setdefault(hit.id, hit)
    ordered = sorted(fused, key=lambda i: -fused[i])
    scale = sorted((h.score for h in first), reverse=True)
    out: list[StoreHit] = []
    for n, point_id in enumerate(ordered):
        hit = found[point_id]
        score = scale[n] if n < len(scale) else hit.score
        if out:
            score = min(score, out[-1].score)
        out.append(replace(hit, score=score))
    return out
