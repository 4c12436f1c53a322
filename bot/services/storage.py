"""Where stored photos live, and their removal. The files go; the rows and labels stay."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from bot import dispatch
from bot.models import Photo

PHOTO_PREFIX = "photos/"


def photo_storage_name(*, tweet_x_id: str, position: int, extension: str) -> str:
    """The storage key rule: photos/<tweet X id>/<position>.<ext> (the S3 event hook watches photos/)."""
    return f"{PHOTO_PREFIX}{tweet_x_id}/{position}.{extension}"


@dispatch.job
def tweet_photos_delete(tweet_pk: int) -> int:
    """Delete the stored files of a tweet's photos. Returns the number of files deleted."""
    deleted = 0
    for photo in Photo.objects.filter(tweet_id=tweet_pk).exclude(file=""):
        name = photo.file.name
        photo.file.storage.delete(name)
        Photo.objects.filter(pk=photo.pk, file=name).update(file="")
        deleted += 1
    return deleted


def storage_replace(name: str, content: bytes) -> str:
    """Save `content` under `name`, replacing an earlier copy; returns the name it was saved as.

    S3 overwrites; a folder would keep the old file and save a renamed copy instead.
    """
    if not getattr(default_storage, "file_overwrite", False) and default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(content))
