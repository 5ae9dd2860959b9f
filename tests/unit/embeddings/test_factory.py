"""Embedders are picked by name, and the hashing stand-in keeps its old vectors."""

import math

import pytest

from mnemo.embeddings import (
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    OpenAICompatibleEmbedder,
    embedder_from_settings,
)


def test_each_kind_builds_its_embedder() -> None:
    assert isinstance(embedder_from_settings(), MiniLMEmbedder)
    remote = embedder_from_settings("openai", url="http://127.0.0.1:9", model="m", dim=8)
    assert isinstance(remote, OpenAICompatibleEmbedder)
    assert (remote.name, remote.dim) == ("m", 8)
    hashing = embedder_from_settings("hashing", dim=64)
    assert isinstance(hashing, HashingEmbedder)
    assert (hashing.name, hashing.dim) == ("hashing-v1-64", 64)


def test_unknown_kinds_and_missing_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="minilm, openai, hashing"):
        embedder_from_settings("word2vec")
    with pytest.raises(ValueError, match="url= and model="):
        embedder_from_settings("openai", model="m")
    with pytest.raises(ValueError, match="384-d vectors, not 256"):
        embedder_from_settings("minilm", dim=256)


def test_hashing_vectors_are_unit_length_and_share_words() -> None:
    hashing: Embedder = HashingEmbedder(256)
    tea, tea_again, trains, empty = hashing.embed(
        ["I like green tea", "green tea, I like it", "trains run late", "!!!"]
    )
    for vector in (tea, tea_again, trains, empty):
        assert len(vector) == 256
        assert math.isclose(math.fsum(v * v for v in vector), 1.0)
    assert sum(a * b for a, b in zip(tea, tea_again, strict=True)) > 0.5
    assert sum(a * b for a, b in zip(tea, trains, strict=True)) < 0.2
    assert empty[0] == 1.0


def test_hashing_vectors_are_those_the_retrieval_service_stored() -> None:
    # Pinned from the retrieval service's original HashingEmbedder: stored vectors stay valid.
    vector = HashingEmbedder(16).embed(["alpha beta"])[0]
    nonzero = {i: round(v, 6) for i, v in enumerate(vector) if v}
    assert nonzero == PINNED_ALPHA_BETA_16


PINNED_ALPHA_BETA_16 = {3: -0.894427, 9: -0.447214}
