"""MiniLM, run by onnxruntime or by numpy, is the real all-MiniLM-L6-v2: same vectors as
PyTorch, in any batch.

reference_vectors.json was made once with torch + sentence-transformers by
libs/embeddings/scripts/make_reference_vectors.py; these tests never need torch.
"""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from mnemo.embeddings import EmbeddingError, MiniLMEmbedder

REFERENCE = json.loads((Path(__file__).parent / "reference_vectors.json").read_text())
TEXTS = [entry["text"] for entry in REFERENCE["texts"]]
LONG = max(TEXTS, key=len)


@pytest.fixture(scope="module", params=["onnx", "numpy"])
def minilm(request: pytest.FixtureRequest) -> MiniLMEmbedder:
    # Small batches, so that the reference texts span several length-sorted batches.
    return MiniLMEmbedder(batch_size=4, engine=request.param)


def test_onnx_is_the_default_engine_when_installed() -> None:
    assert MiniLMEmbedder(batch_size=4).engine == "onnx"
    with pytest.raises(ValueError, match="engine"):
        MiniLMEmbedder(engine="torch")


def test_vectors_match_the_reference_implementation(minilm: MiniLMEmbedder) -> None:
    ours = np.array(minilm.embed(TEXTS))
    theirs = np.array([entry["vector"] for entry in REFERENCE["texts"]])
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    cosines = (ours * theirs).sum(axis=1)
    worst = int(cosines.argmin())
    assert cosines.min() >= 0.999, f"{TEXTS[worst]!r}: cosine {cosines[worst]:.6f}"
    assert ours.shape == (len(TEXTS), minilm.dim)


def test_a_text_gets_the_same_vector_alone_or_in_a_batch(minilm: MiniLMEmbedder) -> None:
    together = np.array(minilm.embed(TEXTS))
    alone = np.array([minilm.embed([text])[0] for text in TEXTS])
    np.testing.assert_allclose(together, alone, atol=2e-6)


def test_vectors_have_unit_length(minilm: MiniLMEmbedder) -> None:
    norms = np.linalg.norm(np.array(minilm.embed(TEXTS)), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_the_same_texts_give_the_same_vectors(minilm: MiniLMEmbedder) -> None:
    assert minilm.embed(TEXTS) == minilm.embed(TEXTS)


def test_text_past_256_tokens_is_cut_as_the_reference_cuts_it(minilm: MiniLMEmbedder) -> None:
    assert REFERENCE["long_text_tokens"] > 256
    longer, long = minilm.embed([LONG + " And one more sentence at the very end.", LONG])
    np.testing.assert_allclose(longer, long, atol=2e-6)


def test_meaning_not_spelling_decides_closeness(minilm: MiniLMEmbedder) -> None:
    cat, kitten, invoice = np.array(
        minilm.embed(["The cat sleeps on the sofa.", "A kitten naps on the couch.", "Pay Q3 tax"])
    )
    assert cat @ kitten > 0.6 > cat @ invoice


def test_no_texts_give_no_vectors_and_one_str_is_refused(minilm: MiniLMEmbedder) -> None:
    assert minilm.embed([]) == []
    with pytest.raises(TypeError):
        minilm.embed("one text")  # type: ignore[arg-type]


def test_a_folder_without_the_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match=r"model\.safetensors|config\.json"):
        MiniLMEmbedder(tmp_path)


@pytest.fixture(scope="module")
def minilm_int8() -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=4, precision="int8")


def test_int8_vectors_stay_close_to_the_reference_and_are_named_apart(
    minilm_int8: MiniLMEmbedder,
) -> None:
    ours = np.array(minilm_int8.embed(TEXTS))
    theirs = np.array([entry["vector"] for entry in REFERENCE["texts"]])
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    cosines = (ours * theirs).sum(axis=1)
    # Quantized: close, not equal (per-tensor weights gave 0.87 on the worst text).
    assert cosines.min() >= 0.95 and cosines.mean() >= 0.98
    assert cosines.min() < 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # Another model's vectors: an index keyed by the name is rebuilt.
    assert minilm_int8.name != MiniLMEmbedder.model and minilm_int8.name.endswith("+int8")


def test_an_int8_text_gets_the_same_vector_whatever_its_batch(
    minilm_int8: MiniLMEmbedder,
) -> None:
    together = np.array(minilm_int8.embed(TEXTS))
    alone = np.array([minilm_int8.embed([text])[0] for text in TEXTS])
    np.testing.assert_allclose(together, alone, atol=2e-6)


def test_int8_meaning_still_decides_closeness(minilm_int8: MiniLMEmbedder) -> None:
    test_meaning_not_spelling_decides_closeness(minilm_int8)


def test_an_unknown_precision_or_int8_in_numpy_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        MiniLMEmbedder(precision="float16")
    with pytest.raises(EmbeddingError, match="onnxruntime"):
        MiniLMEmbedder(engine="numpy", precision="int8")


def test_two_onnx_embedders_of_a_process_do_not_wait_on_each_other(
    minilm_int8: MiniLMEmbedder,
) -> None:
    # Retrieval embeds queries with one while phase 2 embeds batches of seconds, at idle
    # priority, with another: a query must not wait for the batch.
    busy = MiniLMEmbedder(batch_size=4)
    inside, release = threading.Event(), threading.Event()
    compute = busy._pooled

    def held(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        inside.set()
        release.wait()  # the fault: a batch that takes as long as the test needs
        return compute(ids, mask)

    busy._pooled = held
    with ThreadPoolExecutor(2) as pool:
        batch = pool.submit(busy.embed, TEXTS)
        try:
            assert inside.wait(60)
            query = pool.submit(minilm_int8.embed, ["what did Caroline paint?"])
            # A deadline, not a timing: the query is answered while the batch still runs.
            [vector] = query.result(timeout=60)
            assert not batch.done() and len(vector) == MiniLMEmbedder.dim
        finally:
            release.set()
        assert len(batch.result(timeout=60)) == len(TEXTS)


def test_importing_and_embedding_load_neither_torch_nor_a_model_hub() -> None:
    probe = (
        "import sys, mnemo.embeddings as e\n"
        "e.MiniLMEmbedder().embed(['hello'])\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers', 'huggingface_hub'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]"


def test_onnx_spreads_a_batch_over_its_threads_at_the_callers_priority() -> None:
    """One onnxruntime thread a call and the calls on `threads` threads (each operation
    split over two threads cost 40% more CPU a text); the threads take the caller's CPU
    priority, so phase 2's embedding stays at idle priority."""
    minilm = MiniLMEmbedder(batch_size=4, threads=2, precision="int8")
    seen: list[tuple[str, int]] = []
    compute = minilm._pooled

    def noted(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, 0)))
        return compute(ids, mask)

    minilm._pooled = noted

    def at_low_priority() -> list[list[float]]:
        os.setpriority(os.PRIO_PROCESS, 0, 19)  # this thread only (Linux)
        return minilm.embed(TEXTS)

    with ThreadPoolExecutor(1) as caller:
        vectors = caller.submit(at_low_priority).result(timeout=120)
    assert len(vectors) == len(TEXTS)
    assert len({name for name, _ in seen}) == 2
    assert {priority for _, priority in seen} == {19}
