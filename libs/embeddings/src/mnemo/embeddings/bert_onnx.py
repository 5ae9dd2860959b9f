"""The same BERT encoder as an ONNX graph, built here from the checkpoint's own weights and
run by onnxruntime (no torch, nothing downloaded: the graph is written in memory).

onnxruntime's fused CPU kernels (`Attention`, `SkipLayerNormalization`, `BiasGelu` from
its `com.microsoft` domain) do in one pass what numpy does in a dozen array operations,
and their matmuls use its own AVX kernels: on two cores that is 2-4x the numpy encoder.
The output is the mean-pooled sentence vector (not yet normalised), so the hidden states
never leave the runtime.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from mnemo.embeddings.bert import BertShape

F32 = np.float32
MS = "com.microsoft"


def onnx_available() -> bool:
    """Whether onnxruntime and onnx are installed (they are optional: numpy is the fallback)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def bert_graph(weights: dict[str, np.ndarray], shape: BertShape) -> bytes:
    """A serialized ONNX model: input_ids (int64) and attention_mask (int32), both
    (batch, length), in; the mean of the last hidden states over real tokens out."""
    from onnx import TensorProto, helper, numpy_helper

    inits: list[object] = []
    nodes: list[object] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(
        op: str,
        inputs: list[str],
        output: str,
        domain: str = "",
        *,
        extra: int = 0,
        **attrs: Any,
    ) -> str:
        outputs = [output] + [f"{output}.{n}" for n in range(extra)]
        nodes.append(helper.make_node(op, inputs, outputs, name=output, domain=domain, **attrs))
        return output

    def w(name: str) -> np.ndarray:
        return weights[name].astype(F32)

    eps = shape.layer_norm_eps
    # Word + position + token type 0, then LayerNorm, in one kernel.
    x = node(
        "EmbedLayerNormalization",
        [
            "input_ids",
            "",
            const("word", w("embeddings.word_embeddings.weight")),
            const("position", w("embeddings.position_embeddings.weight")),
            const("token_type", w("embeddings.token_type_embeddings.weight")),
            const("emb_ln_g", w("embeddings.LayerNorm.weight")),
            const("emb_ln_b", w("embeddings.LayerNorm.bias")),
        ],
        "embedded",
        MS,
        extra=1,  # the kernel also reports a mask index, unused here
        epsilon=eps,
    )
    for i in range(shape.layers):
        p = f"encoder.layer.{i}."

        def lw(name: str, p: str = p) -> np.ndarray:
            return w(p + name)

        parts = ("query", "key", "value")
        qkv_w = np.concatenate([lw(f"attention.self.{n}.weight") for n in parts]).T
        qkv_b = np.concatenate([lw(f"attention.self.{n}.bias") for n in parts])
        attn = node(
            "Attention",
            [x, const(f"l{i}.qkv_w", qkv_w), const(f"l{i}.qkv_b", qkv_b), "attention_mask"],
            f"l{i}.attn",
            MS,
            num_heads=shape.heads,
        )
        out = node(
            "MatMul",
            [attn, const(f"l{i}.out_w", lw("attention.output.dense.weight").T)],
            f"l{i}.out",
        )
        x = node(
            "SkipLayerNormalization",
            [
                out,
                x,
                const(f"l{i}.ln1_g", lw("attention.output.LayerNorm.weight")),
                const(f"l{i}.ln1_b", lw("attention.output.LayerNorm.bias")),
                const(f"l{i}.out_b", lw("attention.output.dense.bias")),
            ],
            f"l{i}.ln1",
            MS,
            epsilon=eps,
        )
        up = node("MatMul", [x, const(f"l{i}.up_w", lw("intermediate.dense.weight").T)], f"l{i}.up")
        gelu = node(
            "BiasGelu", [up, const(f"l{i}.up_b", lw("intermediate.dense.bias"))], f"l{i}.gelu", MS
        )
        down = node(
            "MatMul", [gelu, const(f"l{i}.down_w", lw("output.dense.weight").T)], f"l{i}.down"
        )
        x = node(
            "SkipLayerNormalization",
            [
                down,
                x,
                const(f"l{i}.ln2_g", lw("output.LayerNorm.weight")),
                const(f"l{i}.ln2_b", lw("output.LayerNorm.bias")),
                const(f"l{i}.down_b", lw("output.dense.bias")),
            ],
            f"l{i}.ln2",
            MS,
            epsilon=eps,
        )
    # Mean pooling over real tokens: sum(hidden * mask) / sum(mask).
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask3 = node("Unsqueeze", [mask, const("axis2", np.array([2], dtype=np.int64))], "mask3")
    summed = node(
        "ReduceSum",
        [node("Mul", [x, mask3], "masked"), const("axis1", np.array([1], dtype=np.int64))],
        "summed",
        keepdims=0,
    )
    counts = node(
        "ReduceSum", [mask, const("axis1b", np.array([1], dtype=np.int64))], "counts", keepdims=1
    )
    node("Div", [summed, counts], "pooled")
    graph = helper.make_graph(
        nodes,  # type: ignore[arg-type]
        "minilm",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", shape.hidden])],
        initializer=inits,  # type: ignore[arg-type]
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)]
    )
    model.ir_version = 8
    return model.SerializeToString()


def quantized(graph: bytes) -> bytes:
    """The graph with its matmuls and attention projections in 8-bit integers: weights
    quantized once, here, and activations at each call (onnxruntime's dynamic
    quantization, signed int8 weights). An activation's scale is that of its whole input,
    so a text's vector depends on the batch it is in: embed int8 texts one per call.
    Everything else (embeddings, layer norms, GELU,
    pooling) stays in float32."""
    import logging
    import tempfile
    from pathlib import Path

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs advice (pre-processing, shape inference) at WARNING on every call.
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="mnemo-onnx-") as folder:
            source, target = Path(folder, "float32.onnx"), Path(folder, "int8.onnx")
            source.write_bytes(graph)
            quantize_dynamic(
                source,
                target,
                weight_type=QuantType.QInt8,
                # One scale per output column: per tensor, vectors drifted to cosine 0.87
                # from the reference's on short texts; per column, 0.97 (mean 0.99).
                per_channel=True,
                op_types_to_quantize=["MatMul", "Attention"],
                # The com.microsoft ops' outputs have no inferred type: they are FLOAT.
                extra_options={"DefaultTensorType": _FLOAT},
            )
            return target.read_bytes()
    finally:
        logging.getLogger().setLevel(quiet)


_FLOAT = 1  # onnx.TensorProto.FLOAT


def onnx_encoder(
    weights: dict[str, np.ndarray], shape: BertShape, threads: int = 1, *, int8: bool = False
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function (ids, mask) -> mean-pooled hidden states, run by onnxruntime with
    `threads` threads per call; calls from several threads at once are safe. `int8`: the
    matmuls in 8-bit integers (`quantized`)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads only burn the cores that other processes here are waiting for.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    graph = bert_graph(weights, shape)
    if int8:
        graph = quantized(graph)
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def encode(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids.astype(np.int32), "attention_mask": mask.astype(np.int32)}
        return np.asarray(session.run(["pooled"], feeds)[0], dtype=F32)

    return encode
