"""Reciprocal rank fusion of two rankings (fusion.fuse) and the second round's queries of
pseudo-relevance feedback (feedback.py, measured and off by default)."""

import math

from mnemo.retrieval.feedback import dense_feedback, sparse_feedback
from mnemo.retrieval.fusion import fuse
from mnemo.retrieval.stores import SparseVector, StoreHit


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


def test_dense_feedback_moves_the_query_toward_its_hits_and_stays_unit() -> None:
    moved = dense_feedback([1.0, 0.0], [[0.0, 2.0]])
    assert math.isclose(math.hypot(*moved), 1.0)
    assert math.isclose(moved[0], moved[1])  # halfway, at weight 1
    assert dense_feedback([3.0, 0.0], []) == [3.0, 0.0]


def test_sparse_feedback_keeps_the_question_and_weighs_hit_words_by_their_share() -> None:
    query = SparseVector([1], [1.0])
    expanded = sparse_feedback(query, [SparseVector([1, 2], [0.5, 0.5]), SparseVector([2], [1.0])])
    weights = dict(zip(expanded.indices, expanded.values, strict=True))
    assert weights == {1: 1.5, 2: 1.0}
