"""The Rekognition backend of the recogniser seam: what is on a photo, answered by AWS Rekognition.

This is the only module that imports boto3 for Rekognition. Callers go through
`bot.recognition.detect`, which hands an image (`image_from_bytes` or `image_from_s3`)
to `detect` here and gets a `Detection` back, or a `RecognitionError` that says in
plain words what went wrong and whether trying again later can help (`permanent`).

`rekognition_client` and `sleep` are re-exported by the package and called through it
(`seam.rekognition_client()`, `seam.sleep(...)`), so replacing them on `bot.recognition`
(as the tests do) takes effect here.

Each photo costs exactly one DetectLabels and one DetectModerationLabels call when all
goes well. Throttling, service errors and network failures are retried here, with
exponential backoff and jitter, a small fixed number of times (IMAGEBOT_AWS_MAX_RETRIES
extra tries per call); a retry repeats only the call that failed. botocore's own
retries are switched off so that the count is ours alone.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from bot import conf, recognition as seam
from bot.recognition.types import MODERATION_FLOOR, DetectedLabel, Detection, RecognitionError

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient
    from mypy_boto3_rekognition.type_defs import LabelTypeDef, ModerationLabelTypeDef

logger = logging.getLogger(__name__)

# Backoff before extra try n (0-based): a random delay between half and all of
# min(BACKOFF_CAP, BACKOFF_BASE * 2**n) seconds (set in bot.conf, whose claims outlive it).
BACKOFF_BASE = conf.AWS_BACKOFF_BASE
BACKOFF_CAP = conf.AWS_BACKOFF_CAP

# The waiting seam: tests replace it so that retries take no time.
sleep: Callable[[float], None] = time.sleep

# Worth another try in a moment.
TEMPORARY_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# The same request will fail the same way: the photo or the account needs fixing.
PERMANENT_ERROR_CODES = frozenset(
    {
        "InvalidImageFormatException",
        "ImageTooLargeException",
        "InvalidS3ObjectException",
        "InvalidParameterException",
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
    }
)


def rekognition_client() -> RekognitionClient:
    """The one factory for Rekognition clients.

    A fresh boto3 session each time, so credentials, region and AWS_ENDPOINT_URL are
    read from the environment when used (the default session would keep the first
    credentials it found for the life of the process).
    """
    connect_timeout, read_timeout = conf.aws_timeout()
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},  # no botocore retries: we retry ourselves
    )
    return boto3.session.Session().client("rekognition", region_name=conf.aws_region(), config=config)


def detect(image: dict, *, with_labels: bool = True) -> Detection:
    """Labels and moderation labels for one image (see `image_from_bytes`, `image_from_s3`).

    with_labels=False asks only for moderation labels: DetectLabels already answered an
    earlier attempt (a RecognitionError carries what it found in `labels_found`).
    """
    try:
        client = seam.rekognition_client()
    except (BotoCoreError, ValueError) as exc:  # ValueError: a malformed AWS_ENDPOINT_URL
        reason, _ = _describe(exc)
        raise RecognitionError(reason, permanent=True, code=type(exc).__name__) from exc

    labels: tuple[DetectedLabel, ...] = ()
    if with_labels:
        labels_answer = _call(
            client.detect_labels,
            Image=dict(image),
            MaxLabels=conf.max_labels(),
            MinConfidence=conf.min_confidence(),
        )
        labels = tuple(_label(item) for item in labels_answer.get("Labels", ()) if item.get("Name"))
    try:
        moderation_answer = _call(
            client.detect_moderation_labels,
            Image=dict(image),
            MinConfidence=min(MODERATION_FLOOR, conf.moderation_min_confidence()),
        )
    except RecognitionError as exc:
        exc.labels_found = labels if with_labels else None
        raise
    return Detection(
        labels=labels,
        moderation_labels=tuple(_moderation_label(item) for item in moderation_answer.get("ModerationLabels", ()) if item.get("Name")),
    )


_Answer = TypeVar("_Answer", bound=Mapping[str, object])


def _call(method: Callable[..., _Answer], **params: Any) -> _Answer:
    """One Rekognition call, with up to IMAGEBOT_AWS_MAX_RETRIES extra tries after a temporary failure."""
    extra_tries = conf.aws_max_retries()
    attempt = 0
    while True:
        try:
            return method(**params)
        except (ClientError, BotoCoreError) as exc:
            reason, retryable = _describe(exc)
            code = _code(exc)
            if not retryable:
                raise RecognitionError(reason, permanent=True, code=code) from exc
            if attempt >= extra_tries:
                if attempt:
                    reason = f"{reason} (gave up after {attempt + 1} attempts)"
                raise RecognitionError(reason, permanent=False, code=code) from exc
            delay = _backoff(attempt)
            logger.warning("%s; trying again in %.1f s", reason, delay)
            seam.sleep(delay)
            attempt += 1


def _describe(exc: Exception) -> tuple[str, bool]:
    """(plain reason, worth retrying) for an error raised by botocore."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "UnknownError"
        message = " ".join(str(error.get("Message") or "").split())
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        reason = f"Rekognition: {code}: {message}" if message else f"Rekognition: {code}"
        if code in PERMANENT_ERROR_CODES:
            return reason, False
        return reason, code in TEMPORARY_ERROR_CODES or status >= 500 or status == 429
    if isinstance(exc, NoCredentialsError):
        return "AWS credentials are not configured", False
    if isinstance(exc, PartialCredentialsError):
        return f"AWS credentials are incomplete: {exc}", False
    if isinstance(exc, NoRegionError):
        return "AWS region is not configured", False
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):  # connection refused, timeouts, dropped connections
        return f"Rekognition unreachable: {' '.join(str(exc).split())}", True
    if isinstance(exc, CredentialRetrievalError):
        return f"AWS credentials could not be fetched: {exc}", True
    return f"Rekognition request failed: {' '.join(str(exc).split())}", False


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") or "UnknownError"
    return type(exc).__name__


def _backoff(attempt: int) -> float:
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter between retries, not a secret


def _label(item: LabelTypeDef) -> DetectedLabel:
    return DetectedLabel(
        name=item["Name"],
        confidence=float(item.get("Confidence", 0.0)),
        parents=tuple(parent["Name"] for parent in item.get("Parents", ()) if parent.get("Name")),
        categories=tuple(category["Name"] for category in item.get("Categories", ()) if category.get("Name")),
    )


def _moderation_label(item: ModerationLabelTypeDef) -> DetectedLabel:
    parent = item.get("ParentName") or ""
    return DetectedLabel(
        name=item["Name"],
        confidence=float(item.get("Confidence", 0.0)),
        parents=(parent,) if parent else (),
        moderation=True,
    )
