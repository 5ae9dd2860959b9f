"""The hashing embedder is deterministic, normalised, and puts shared words close."""

import math
import os

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


def test_mnemo_dense_threads_sets_phase_2s_threads_only():
    import pytest

    from mnemo.retrieval.bootstrap import embedder
    from mnemo.retrieval.settings import RetrievalSettings
    from mnemo.settings import load_settings

    env = {"MNEMO_NATS_URL": "nats://127.0.0.1:4222", "MNEMO_DATABASE_URL": "postgresql://x/y"}
    # float32: the same embedder, without int8's quantization pass (4 s a model here).
    settings = load_settings(
        RetrievalSettings,
        {**env, "MNEMO_DENSE_THREADS": "1", "MNEMO_EMBEDDING_PRECISION": "float32"},
    )
    assert embedder(settings, "background")._inner.threads == 1
    assert embedder(settings)._inner.threads == min(4, len(os.sched_getaffinity(0)))
    with pytest.raises(ValueError, match="MNEMO_DENSE_THREADS"):
        load_settings(RetrievalSettings, {**env, "MNEMO_DENSE_THREADS": "0"})
