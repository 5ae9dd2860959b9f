"""bench/embedders.py's `WithPrevious`: a turn's dense vector is its own text's vector plus
half the previous turn's (already made) vector, unit length; queries are embedded as they
are. A stand-in model whose vectors are worked by hand; no weights are loaded."""

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from embedders import SEP, WithPrevious


class Axes:
    """Each text's vector is the unit vector of the axis it names ("x", "y" or "z")."""

    name, dim = "axes", 3

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.seen += texts
        return [[float(t == "x"), float(t == "y"), float(t == "z")] for t in texts]


def turn(own: str, words: str, before: str = "") -> str:
    return SEP.join((own, words, before))


def test_a_turn_adds_half_the_previous_turns_vector_and_the_model_sees_only_its_own_text():
    inner = Axes()
    combined = WithPrevious(inner, 0.5)
    first, second = combined.embed([turn("x", "hello"), turn("y", "how are you", "hello")])
    assert first == [1.0, 0.0, 0.0]
    norm = math.sqrt(1 + 0.25)
    assert second == pytest.approx([0.5 / norm, 1 / norm, 0.0])
    assert inner.seen == ["x", "y"]  # the previous turn's words are not embedded again


def test_the_context_decays_by_the_weight_a_turn_and_queries_are_embedded_as_they_are():
    combined = WithPrevious(Axes(), 0.5)
    combined.embed([turn("x", "a")])
    combined.embed([turn("y", "b", "a")])
    [third] = combined.embed([turn("z", "c", "b")])
    assert third[0] < third[1] < third[2]  # x two turns back weighs less than y, one back
    assert combined.embed(["y"]) == [[0.0, 1.0, 0.0]]
