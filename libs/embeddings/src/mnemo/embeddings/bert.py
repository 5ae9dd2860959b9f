"""A BERT encoder in plain numpy, so a sentence-embedding model runs without torch.

Only inference, float32 throughout. Matrices are stored transposed to (in, out) and the
query, key and value projections are fused into one matmul, because on two cores the
time goes into a few large matmuls and the fewer and bigger they are the better.
Elementwise steps work in place: fresh arrays of this size cost page faults.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

F32 = np.float32


@dataclass(frozen=True, slots=True)
class BertShape:
    """What the checkpoint's config.json says about the network's size."""

    layers: int = 6
    hidden: int = 384
    heads: int = 12
    layer_norm_eps: float = 1e-12


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden), query part pre-scaled by 1/sqrt(head size)
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """Normalise each row of `x` in place and return it."""
    x -= x.mean(axis=-1, keepdims=True)
    variance = np.einsum("ij,ij->i", x, x)[:, None] / F32(x.shape[-1])
    x /= np.sqrt(variance + F32(eps))
    x *= gain
    x += bias
    return x


# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32 resolution near 1; numpy
# has no erf, and BERT's GELU is the exact (erf) one, not the tanh approximation.
_P = F32(0.3275911)
_A = [F32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU(x) = x * (1 + erf(x / sqrt 2)) / 2, computed in place on `x`."""
    z = np.abs(x)
    z *= F32(1 / math.sqrt(2))
    t = z * _P
    t += F32(1)
    np.reciprocal(t, out=t)
    poly = t * _A[0]
    for a in _A[1:]:
        poly += a
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    np.subtract(F32(1), poly, out=poly)
    np.copysign(poly, x, out=poly)  # erf(x / sqrt 2)
    poly += F32(1)
    poly *= F32(0.5)
    x *= poly
    return x


class BertEncoder:
    """Token ids in, the last layer's hidden states out: (batch, length, hidden)."""

    def __init__(self, weights: dict[str, np.ndarray], shape: BertShape) -> None:
        self.shape = shape
        scale = F32(1 / math.sqrt(shape.hidden // shape.heads))
        self._words = weights["embeddings.word_embeddings.weight"]
        self._positions = weights["embeddings.position_embeddings.weight"]
        self._type0 = weights["embeddings.token_type_embeddings.weight"][0]
        self._ln_g = weights["embeddings.LayerNorm.weight"]
        self._ln_b = weights["embeddings.LayerNorm.bias"]
        self._layers = []
        for i in range(shape.layers):

            def w(name: str, i: int = i) -> np.ndarray:
                return weights[f"encoder.layer.{i}.{name}"].astype(F32)

            q, k, v = (w(f"attention.self.{n}.weight") for n in ("query", "key", "value"))
            qb, kb, vb = (w(f"attention.self.{n}.bias") for n in ("query", "key", "value"))
            self._layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(np.concatenate([q * scale, k, v]).T),
                    qkv_b=np.concatenate([qb * scale, kb, vb]),
                    out_w=np.ascontiguousarray(w("attention.output.dense.weight").T),
                    out_b=w("attention.output.dense.bias"),
                    ln1_g=w("attention.output.LayerNorm.weight"),
                    ln1_b=w("attention.output.LayerNorm.bias"),
                    up_w=np.ascontiguousarray(w("intermediate.dense.weight").T),
                    up_b=w("intermediate.dense.bias"),
                    down_w=np.ascontiguousarray(w("output.dense.weight").T),
                    down_b=w("output.dense.bias"),
                    ln2_g=w("output.LayerNorm.weight"),
                    ln2_b=w("output.LayerNorm.bias"),
                )
            )

    @classmethod
    def from_safetensors(cls, path: Path, shape: BertShape) -> "BertEncoder":
        """Load a Hugging Face `BertModel` checkpoint (model.safetensors)."""
        return cls(load_file(str(path)), shape)

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Hidden states for `ids` (batch, length); `mask` is 1 for real tokens, 0 for padding."""
        batch, length = ids.shape
        hidden, heads, eps = self.shape.hidden, self.shape.heads, self.shape.layer_norm_eps
        x = self._words[ids.reshape(-1)]
        x += np.tile(self._positions[:length] + self._type0, (batch, 1))
        x = _layer_norm(x, self._ln_g, self._ln_b, eps)
        # Padded keys get a large negative score, so softmax gives them no weight.
        key_bias = ((1 - mask.astype(F32)) * F32(-1e4))[:, None, None, :]
        for layer in self._layers:
            qkv = (x @ layer.qkv_w).reshape(batch, length, 3, heads, -1)
            qkv += layer.qkv_b.reshape(3, heads, -1)
            q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # each (batch, heads, length, head size)
            scores = q @ k.transpose(0, 1, 3, 2)
            scores += key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
            attended = context @ layer.out_w
            attended += layer.out_b
            attended += x
            x = _layer_norm(attended, layer.ln1_g, layer.ln1_b, eps)
            up = x @ layer.up_w
            up += layer.up_b
            down = _gelu(up) @ layer.down_w
            down += layer.down_b
            down += x
            x = _layer_norm(down, layer.ln2_g, layer.ln2_b, eps)
        return x.reshape(batch, length, hidden)
