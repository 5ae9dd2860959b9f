"""The hashing embedder is deterministic, normalised, and puts shared words close."""

import math

from mnemo.embeddings import HashingEmbedder


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_deterministic_and_unit_length():
    embedder = HashingEmbedder(64)
    vector = embedder.embed(["I love TypeScript"])[0]
    assert vector == embedder.embed(["I love TypeScript"])[0]
    assert math.isclose(sum(v * v for v in vector), 1.0)
    assert len(vector) == 64


def test_shared_words_are_closer_than_unrelated_text():
    embedder = HashingEmbedder(256)
    query = embedder.embed(["typescript"])[0]
    related = embedder.embed(["I love TypeScript and Rust"])[0]
    unrelated = embedder.embed(["The cat sat on the mat"])[0]
    assert cosine(query, related) > cosine(query, unrelated)


def test_empty_text_still_has_a_vector():
    assert math.isclose(sum(v * v for v in HashingEmbedder(8).embed(["..."])[0]), 1.0)
