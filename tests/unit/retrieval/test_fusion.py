"""Reciprocal rank fusion of two rankings (fusion.fuse)."""

from mnemo.retrieval.fusion import fuse
from mnemo.retrieval.stores import StoreHit


def hits(*ids: str) -> list[StoreHit]:
    return [StoreHit(i, 1.0 / n, {}) for n, i in enumerate(ids, 1)]


def test_what_both_rankings_find_rises_above_what_one_finds() -> None:
    fused = fuse(hits("a", "b", "c"), hits("c", "d"))
    assert [h.id for h in fused] == ["c", "a", "b", "d"]  # b and d tie: the first list first
    scores = [h.score for h in fused]
    assert scores == sorted(scores, reverse=True)


def test_fused_hits_show_the_first_rankings_scores_in_order() -> None:
    first = [StoreHit("a", 0.9, {}), StoreHit("b", 0.5, {})]
    second = [StoreHit("b", 0.7, {}), StoreHit("c", 0.6, {}), StoreHit("d", 0.95, {})]
    fused = fuse(first, second)
    assert [(h.id, h.score) for h in fused] == [("b", 0.9), ("a", 0.5), ("c", 0.5), ("d", 0.5)]


def test_one_empty_ranking_leaves_the_other_as_it_was() -> None:
    assert [h.id for h in fuse(hits("a", "b", "c"), [])] == ["a", "b", "c"]
    assert [h.id for h in fuse([], hits("a", "b"))] == ["a", "b"]
