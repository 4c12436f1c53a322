"""Where stored photos live, and their removal.

A photo's row and its file always say the same thing. Once its file is removed the row's
`file` is "", and a photo still waiting for recognition (`stored`, or `recognising`) is
failed with the reason: nothing will recognise it now. A recognised or failed photo keeps
its status, and its labels stay. On the local folder, a tweet's folder (photos/<tweet id>/)
goes with its last photo; S3 has no folders.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import posixpath
from collections.abc import Callable, Iterable
from functools import partial

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db import transaction

from bot import dispatch
from bot.models import Photo, Tweet

logger = logging.getLogger(__name__)

PHOTO_PREFIX = "photos/"

# A photo whose file goes while it waits for recognition is failed: nothing will recognise it now.
WAITING = (Photo.Status.STORED, Photo.Status.RECOGNISING)
# Why, by its tweet's status.
_WHY_REMOVED: dict[str, str] = {
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
    deleted = 0
    folders = set()
    reason = functools.cache(partial(_why_removed, tweet_pk))  # looked up only for a photo still waiting
    for photo in Photo.objects.filter(tweet_id=tweet_pk).exclude(file="").only("pk", "file", "status"):
        name = photo.file.name
        photo.file.storage.delete(name)
        _photo_file_forget(photo.pk, name, waiting=photo.status in WAITING, reason=reason)
        folders.add(posixpath.dirname(name))
        deleted += 1
    if not folders:  # also after a photo's writer removed its own file (the tweet was deleted while it was being stored)
        x_id = Tweet.objects.filter(pk=tweet_pk).values_list("x_id", flat=True).first()
        folders = {f"{PHOTO_PREFIX}{x_id}"} if x_id else set()
    for folder in folders:
        _folder_remove(default_storage, folder)
    return deleted


def _why_removed(tweet_pk: int) -> str:
    status = str(Tweet.objects.filter(pk=tweet_pk).values_list("status", flat=True).first() or "gone")
    return f"removed before recognition: {_WHY_REMOVED.get(status, 'the tweet is ' + status)}"


def _photo_file_forget(photo_pk: int, name: str, *, waiting: bool, reason: Callable[[], str]) -> None:
    """The row of a photo whose file `name` was just deleted stops naming it.

    `waiting`: the photo was stored or recognising when read, so it is failed with `reason`;
    otherwise (recognised, failed) only its file is forgotten. A worker may move it between
    the read and the update: each way is tried, a few times. `reason` is asked only when needed.
    """
    photos = Photo.objects.filter(pk=photo_pk, file=name)
    for _ in range(3):
        if waiting and photos.move((Photo.Status.STORED, Photo.Status.RECOGNISING), Photo.Status.FAILED, file="", last_error=reason()):
            return
        if photos.exclude(status__in=WAITING).update(file=""):
            return
        if not photos.exists():  # it names another file now, or is gone
            return
        waiting = True
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
        _folder_remove(default_storage, f"{PHOTO_PREFIX}{x_id}")
    if left:
        logger.error("stored photos of deleted tweets left in storage (no row names them now): %s", ", ".join(left))


def _folder_remove(storage: Storage, folder: str) -> None:
    """A tweet's folder (photos/<tweet id>) in the local folder, once it is empty (S3 has no folders)."""
    if not isinstance(storage, FileSystemStorage) or not folder.startswith(PHOTO_PREFIX) or not folder[len(PHOTO_PREFIX) :].isdigit():
        return
    with contextlib.suppress(OSError):  # not empty (another photo of the tweet), or not there
        os.rmdir(storage.path(folder))


def storage_replace(name: str, content: bytes) -> str:
    """Save `content` under `name`, replacing an earlier copy; returns the name it was saved as.

    S3 overwrites; a folder would keep the old file and save a renamed copy instead.
    """
    if not getattr(default_storage, "file_overwrite", False) and default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(content))
