"""The photo steps: download and store one photo, recognise one stored photo.

Each claims its photo with a status move first, so a second worker, a repeated S3 event
or a redelivery finds nothing left to do.

bot.media (Pillow, requests) is imported when a photo is fetched, not with this module:
the webhook imports the services and never fetches one, and on Lambda every import is
paid on the cold start.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F

from bot import recognition
from bot.events import PhotoRef
from bot.inserting import Insert
from bot.models import Label, Photo, Tweet
from bot.services.errors import PermanentFailure, TemporaryFailure
from bot.services.settling import tweet_touch
from bot.services.storage import photo_storage_name, storage_replace


def photos_record(tweet: Tweet, refs: Iterable[PhotoRef]) -> None:
    """A Photo row, pending, for each photo a post looked up on X names; those it already has are left as they are."""
    Photo.objects.bulk_create(_photos(tweet, refs), ignore_conflicts=True)


def photos_insert(tweet: Tweet, refs: Iterable[PhotoRef]) -> Insert | None:
    """The INSERT of a Photo row, pending, for each photo a new post names (None: it names none).

    Prepared before the post is written, to run after it: see Insert."""
    photos = _photos(tweet, refs)
    return Insert(photos) if photos else None


def _photos(tweet: Tweet, refs: Iterable[PhotoRef]) -> list[Photo]:
    return [
        Photo(
            tweet=tweet,
            position=ref.position,
            media_key=ref.media_key,
            media_type=ref.media_type,
            source_url=ref.url,
            is_thumbnail=ref.is_thumbnail,
        )
        for ref in refs
    ]


def photo_fetch(photo: Photo, *, give_up: bool = False) -> None:
    """Download, validate and store one photo. A photo that cannot be used is failed; the others go on.

    give_up: a temporary failure fails the photo too (the tweet's last attempt).
    """
    photos = Photo.objects.filter(pk=photo.pk)
    photos.update(attempts=F("attempts") + 1)
    from bot import media  # imported when used (see above)

    try:
        image = media.fetch_image(photo.source_url)
    except media.MediaError as exc:
        if exc.permanent or give_up:
            reason = exc.reason if exc.permanent else f"gave up: {exc.reason}"
            photos.move(Photo.Status.PENDING, Photo.Status.FAILED, last_error=reason)
            return
        photos.update(last_error=exc.reason)
        raise TemporaryFailure(f"photo {photo.position + 1}: {exc.reason}") from exc
    name = photo_storage_name(tweet_x_id=photo.tweet.x_id, position=photo.position, extension=image.extension)
    # Marked stored before the object exists, so an S3 event can never find the row behind.
    photos.move(
        Photo.Status.PENDING,
        Photo.Status.STORED,
        file=name,
        content_type=image.content_type,
        size=len(image.content),
        width=image.width,
        height=image.height,
        last_error="",
    )
    try:
        saved = storage_replace(name, image.content)
    except Exception as exc:
        photos.move(Photo.Status.STORED, Photo.Status.PENDING, file="", last_error=f"storage: {exc}")
        raise TemporaryFailure(f"photo {photo.position + 1}: could not store it: {exc}") from exc
    # The tweet was deleted while this photo was on its way: its files were removed before
    # this one existed, so it goes now.
    if not photos.filter(file=saved).exclude(tweet__status=Tweet.Status.DELETED).exists():
        default_storage.delete(saved)


def photo_recognise(photo_pk: int) -> bool:
    """Recognise one stored photo: exactly one DetectLabels and one DetectModerationLabels call.

    Returns whether this call settled the photo (recognised, or failed for good).
    """
    photos = Photo.objects.filter(pk=photo_pk)
    if not photos.move(Photo.Status.STORED, Photo.Status.RECOGNISING, claim=True):
        return False
    photo = Photo.objects.get(pk=photo_pk)
    tweet_touch(photo.tweet_id)
    try:
        image = _recognition_image(photo)
        # DetectLabels answers once per photo: a retry after a failed moderation call asks only for that.
        detection = recognition.detect(image, with_labels=not photo.labels_detected)
    except recognition.RecognitionError as exc:
        if exc.labels_found is not None:
            _labels_keep(photo_pk, exc.labels_found)
            photos.update(labels_detected=True)
        if exc.code == "InvalidS3ObjectException" and not photo.file.storage.exists(photo.file.name):
            # The worker died between marking it stored and writing it: fetch it again.
            photos.move(Photo.Status.RECOGNISING, Photo.Status.PENDING, file="", last_error=f"stored object missing: {exc.reason}")
            raise TemporaryFailure(f"photo {photo.position + 1}: stored object missing") from exc
        if exc.permanent and exc.about_photo:
            photos.move(Photo.Status.RECOGNISING, Photo.Status.FAILED, last_error=exc.reason)
            return True
        photos.move(Photo.Status.RECOGNISING, Photo.Status.STORED, last_error=exc.reason)
        raise (PermanentFailure if exc.permanent else TemporaryFailure)(exc.reason) from exc
    except OSError as exc:  # the stored file vanished: fetch it again
        photos.move(Photo.Status.RECOGNISING, Photo.Status.PENDING, file="", last_error=f"stored file unreadable: {exc}")
        raise TemporaryFailure(f"photo {photo.position + 1}: stored file unreadable: {exc}") from exc
    with transaction.atomic():
        _labels_keep(photo_pk, (*detection.labels, *detection.moderation_labels))
        photos.move(Photo.Status.RECOGNISING, Photo.Status.RECOGNISED, flagged=detection.flagged, labels_detected=True, last_error="")
    return True


def _labels_keep(photo_pk: int, labels: Iterable[recognition.DetectedLabel]) -> None:
    Label.objects.bulk_create(
        [
            Label(
                photo_id=photo_pk,
                name=label.name[:200],
                confidence=label.confidence,
                parents=list(label.parents),
                categories=list(label.categories),
                is_moderation=label.moderation,
            )
            for label in labels
        ],
        ignore_conflicts=True,
    )


def _recognition_image(photo: Photo) -> recognition.Image:
    storage = photo.file.storage
    bucket = getattr(storage, "bucket_name", None)
    if bucket:  # in S3: Rekognition reads the object itself; the local recogniser reads it through the storage

        def read() -> bytes:
            with storage.open(photo.file.name, "rb") as stored:
                return stored.read()

        return recognition.image_from_s3(bucket, posixpath.join(storage.location, photo.file.name), read=read)
    with storage.open(photo.file.name, "rb") as stored:
        return recognition.image_from_bytes(stored.read())
