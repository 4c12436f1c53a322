"""Read a PyTorch state dict saved in the legacy `.pth` format, without torch and without
running anything the file names.

The legacy format (torch.save before 1.6) is five pickles in a row, then raw storages:
magic number, protocol version, system info, the state dict itself (tensors refer to
their storages by persistent id), the list of storage keys; then, for each key in that
order, an int64 element count and the storage's bytes.

A pickle can name any Python callable and have it called while loading. This reader's
unpickler knows only the few names a tensor state dict needs, mapped to numpy builders
of its own (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.*Storage);
any other name (os.system, builtins.eval, ...) is refused before it is looked up, with
`UnsafeWeightsError`.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class WeightsError(Exception):
    """The weights file cannot be read."""


class UnsafeWeightsError(WeightsError):
    """The weights pickle names something a state dict does not need: it was not loaded."""


@dataclass
class _Storage:
    dtype: type
    key: str
    count: int
    data: np.ndarray | None = None


@dataclass
class _Tensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]

    def to_array(self) -> np.ndarray:
        base = self.storage.data
        if base is None:
            raise WeightsError(f"storage {self.storage.key} has no data")
        itemsize = base.itemsize
        needed = self.offset + sum((size - 1) * stride for size, stride in zip(self.shape, self.strides, strict=True)) + 1
        if any(size == 0 for size in self.shape):
            return np.zeros(self.shape, dtype=base.dtype)
        if self.offset < 0 or any(stride < 0 for stride in self.strides) or needed > base.size:
            raise WeightsError(f"a tensor reaches outside its storage {self.storage.key}")
        view = np.lib.stride_tricks.as_strided(
            base[self.offset :], shape=self.shape, strides=tuple(stride * itemsize for stride in self.strides)
        )
        return view.copy(order="C")  # contiguous, independent of the storage


def _rebuild_tensor_v2(
    storage: object,
    storage_offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool = False,
    backward_hooks: object = None,
    metadata: object = None,
) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise WeightsError("a tensor was rebuilt from something that is not a storage")
    return _Tensor(storage, int(storage_offset), tuple(int(n) for n in size), tuple(int(n) for n in stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeWeightsError(f"the weights file names {module}.{name}, which a state dict never needs: refused")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise WeightsError(f"unexpected persistent id in the weights file: {pid!r:.80}")
        _, storage_type, key, _location, count, view = pid
        if not isinstance(storage_type, _StorageType) or view is not None:
            raise WeightsError("unsupported storage in the weights file")
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(storage_type.dtype, str(key), int(count))
        return storage


def load_state_dict(file: BinaryIO | bytes) -> dict[str, np.ndarray]:
    """Tensors by name, as numpy arrays. WeightsError (UnsafeWeightsError) when the file is not
    a plain legacy-format tensor state dict."""
    stream = io.BytesIO(file) if isinstance(file, bytes) else file
    storages: dict[str, _Storage] = {}

    def load() -> Any:
        try:
            return _RestrictedUnpickler(stream, storages).load()
        except WeightsError:
            raise
        except Exception as exc:  # a truncated or malformed pickle
            raise WeightsError(f"the weights file is not a legacy PyTorch state dict: {exc}") from exc

    if load() != LEGACY_MAGIC_NUMBER:
        raise WeightsError("the weights file is not in PyTorch's legacy format (a zip-format file needs torch)")
    if load() != LEGACY_PROTOCOL_VERSION:
        raise WeightsError("the weights file has an unknown protocol version")
    info = load()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise WeightsError("the weights file was not written on a little-endian machine")
    state = load()
    keys = load()
    if not isinstance(state, dict) or not isinstance(keys, list) or set(keys) != set(storages):
        raise WeightsError("the weights file does not hold a state dict of tensors")
    for key in keys:
        storage = storages[key]
        header = stream.read(8)
        if len(header) != 8:
            raise WeightsError("the weights file is truncated")
        (count,) = struct.unpack("<q", header)
        if count != storage.count:
            raise WeightsError(f"storage {key} holds {count} elements, its tensors expect {storage.count}")
        size = count * np.dtype(storage.dtype).itemsize
        raw = stream.read(size)
        if len(raw) != size:
            raise WeightsError("the weights file is truncated")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    tensors = {}
    for name, value in state.items():
        if not isinstance(value, _Tensor):
            raise WeightsError(f"{name} in the weights file is not a tensor")
        tensors[str(name)] = value.to_array()
    return tensors
