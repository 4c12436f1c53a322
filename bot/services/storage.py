"""Where stored photos live, and their removal.

A photo's row and its file always say the same thing. Once its file is removed the row's
`file` is "", and a photo still waiting for recognition (`stored`, or `recognising`) is
failed with the reason: nothing will recognise it now. A recognised or failed photo keeps
its status, and its labels stay. On the local folder, a tweet's folder (photos/<tweet id>/)
goes with its last photo; S3 has no folders.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from functools import partial

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db import transaction

from bot import dispatch
from bot.models import Photo, Tweet

logger = logging.getLogger(__name__)

PHOTO_PREFIX = "photos/"

# Why a photo that was waiting for recognition was failed when its file went, by its tweet's status.
_WHY_REMOVED = {
    Tweet.Status.FAILED: "the tweet failed",
    Tweet.Status.DELETED: "the tweet was deleted",
    Tweet.Status.DONE: "the tweet was answered",
}


def photo_storage_name(*, tweet_x_id: str, position: int, extension: str) -> str:
    """The storage key rule: photos/<tweet X id>/<position>.<ext> (the S3 event hook watches photos/)."""
    return f"{PHOTO_PREFIX}{tweet_x_id}/{position}.{extension}"


@dispatch.job
def tweet_photos_delete(tweet_pk: int) -> int:
    """Delete the stored files of a tweet's photos, and say so on their rows. Returns the number of files deleted.

    The file goes first: if that fails, the row still names it, for the sweeper to finish.
    """
    tweet = Tweet.objects.filter(pk=tweet_pk).values("x_id", "status").first()
    if tweet is None:
        return 0
    reason = f"removed before recognition: {_WHY_REMOVED.get(tweet['status'], 'the tweet is ' + tweet['status'])}"
    deleted = 0
    for photo in Photo.objects.filter(tweet_id=tweet_pk).exclude(file="").only("pk", "file"):
        name = photo.file.name
        photo.file.storage.delete(name)
        _photo_file_forget(photo.pk, name, reason=reason)
        deleted += 1
    # Also after a photo's writer removed its own file (the tweet was deleted while it was being stored).
    _tweet_folder_remove(default_storage, tweet["x_id"])
    return deleted


def _photo_file_forget(photo_pk: int, name: str, *, reason: str) -> None:
    """The row of a photo whose file `name` was just deleted stops naming it."""
    photos = Photo.objects.filter(pk=photo_pk, file=name)
    for _ in range(3):  # a worker may move the photo between the two updates: look again
        if photos.move((Photo.Status.STORED, Photo.Status.RECOGNISING), Photo.Status.FAILED, file="", last_error=reason):
            return
        if photos.exclude(status__in=(Photo.Status.STORED, Photo.Status.RECOGNISING)).update(file=""):
            return
        if not photos.exists():  # it names another file now, or is gone
            return
    logger.warning("photo pk %s still names %s, which was deleted: a worker keeps moving it", photo_pk, name)


def tweets_delete(tweet_pks: Iterable[int]) -> int:
    """Delete tweets' records, their photos, labels and reply with them, then their stored files.

    The files go once the deletion is committed, so a deletion rolled back leaves every row
    naming a file that is still there. Returns the number of tweets deleted.
    """
    tweets = Tweet.objects.filter(pk__in=list(tweet_pks))
    x_ids = list(tweets.values_list("x_id", flat=True))
    names = list(Photo.objects.filter(tweet__in=tweets).exclude(file="").values_list("file", flat=True))
    _, deleted = tweets.delete()
    transaction.on_commit(partial(_stored_files_delete, names, x_ids))
    return deleted.get(Tweet._meta.label, 0)


def _stored_files_delete(names: list[str], tweet_x_ids: list[str]) -> None:
    """Files whose rows are gone. One failure does not keep the others; what is left is logged by name."""
    left = []
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("the stored photo %s of a deleted tweet could not be removed", name)
            left.append(name)
    for x_id in tweet_x_ids:
        _tweet_folder_remove(default_storage, x_id)
    if left:
        logger.error("stored photos of deleted tweets left in storage (no row names them now): %s", ", ".join(left))


def _tweet_folder_remove(storage: Storage, tweet_x_id: str) -> None:
    """photos/<tweet id>/ in the local folder, once it is empty (S3 has no folders)."""
    if not isinstance(storage, FileSystemStorage) or not tweet_x_id.isdigit():
        return
    with contextlib.suppress(OSError):  # not empty (another photo of the tweet), or not there
        os.rmdir(storage.path(f"{PHOTO_PREFIX}{tweet_x_id}"))


def storage_replace(name: str, content: bytes) -> str:
    """Save `content` under `name`, replacing an earlier copy; returns the name it was saved as.

    S3 overwrites; a folder would keep the old file and save a renamed copy instead.
    """
    if not getattr(default_storage, "file_overwrite", False) and default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(content))
