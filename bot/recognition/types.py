"""What every recogniser backend takes and returns: an image, a Detection, a RecognitionError."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot import conf

# Moderation labels are kept from this confidence up (or from the flagging threshold, when
# an operator sets that lower), so the stored moderation labels show near misses too;
# whether a photo is flagged is decided by `Detection.flagged`.
MODERATION_FLOOR = 50.0

# The photo is what the recogniser refused: the bot can still answer that it could not read it.
PHOTO_ERROR_CODES = frozenset(
    {
        "InvalidImageFormatException",
        "ImageTooLargeException",
        "InvalidS3ObjectException",
        "InvalidParameterException",
        "UnreadablePhoto",  # the local recogniser could not decode it
    }
)


class Image(dict):
    """One photo to recognise, in Rekognition's `Image` shape ({"Bytes": ...} or
    {"S3Object": {"Bucket": ..., "Name": ...}}), which is what Rekognition is sent.

    A backend that needs the bytes of an S3 object (the local one) calls `read`, given by
    whoever knows the storage; Rekognition reads the object itself.
    """

    def __init__(self, shape: dict, *, read: Callable[[], bytes] | None = None) -> None:
        super().__init__(shape)
        self.read = read


def image_from_bytes(data: bytes) -> Image:
    return Image({"Bytes": data})


def image_from_s3(bucket: str, key: str, *, read: Callable[[], bytes] | None = None) -> Image:
    """An S3 object; `read` returns its bytes for a backend that cannot read S3 itself."""
    return Image({"S3Object": {"Bucket": bucket, "Name": key}}, read=read)


@dataclass(frozen=True)
class DetectedLabel:
    name: str
    confidence: float
    parents: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    moderation: bool = False  # True for moderation labels (parents = (ParentName,))


@dataclass(frozen=True)
class Detection:
    labels: tuple[DetectedLabel, ...]
    moderation_labels: tuple[DetectedLabel, ...]

    @property
    def flagged(self) -> bool:
        """A moderation label at or above IMAGEBOT_MODERATION_MIN_CONFIDENCE: reply without describing the photo."""
        threshold = conf.moderation_min_confidence()
        return any(label.confidence >= threshold for label in self.moderation_labels)


class RecognitionError(Exception):
    """Recognition failed. `reason` is plain text for the operator; `permanent` says retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code  # the AWS error code, the botocore exception name, or the local backend's own code
        # What the label detection found before a later call failed (None: it was not answered).
        self.labels_found: tuple[DetectedLabel, ...] | None = None

    @property
    def about_photo(self) -> bool:
        """The photo itself is the problem (not the account, credentials, service or installation)."""
        return self.code in PHOTO_ERROR_CODES
