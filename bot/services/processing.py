"""A tweet through the pipeline: fetch -> store -> recognise -> reply -> clean up.

Two ways in: `tweet_process`, the job dispatched for a new tweet (and by the sweeper),
and `photo_recognise_stored`, the S3 ObjectCreated event for one stored photo on Lambda.
"""

from __future__ import annotations

import logging

from django.db.models import F
from django.utils import timezone

from bot import conf, dispatch
from bot.models import Photo, Tweet
from bot.services.errors import PermanentFailure, TemporaryFailure
from bot.services.hydrating import tweet_hydrate
from bot.services.opting import OPTED_OUT_REASON, author_opted_out
from bot.services.photos import photo_fetch, photo_recognise
from bot.services.replying import tweet_reply
from bot.services.settling import failures_recorded, tweet_deleted_meanwhile
from bot.services.storage import PHOTO_PREFIX

logger = logging.getLogger(__name__)


@dispatch.job
def tweet_process(tweet_pk: int) -> None:
    """Take a received tweet through the pipeline. Only one worker can claim it."""
    if not Tweet.objects.filter(pk=tweet_pk).move(Tweet.Status.RECEIVED, Tweet.Status.PROCESSING, attempts=F("attempts") + 1):
        return
    tweet = Tweet.objects.get(pk=tweet_pk)
    if author_opted_out(tweet.author_x_id):  # (recording does not look): nothing of theirs is downloaded
        Tweet.objects.filter(pk=tweet_pk).move(Tweet.Status.PROCESSING, Tweet.Status.SKIPPED, skip_reason=OPTED_OUT_REASON)
        return
    # On the last attempt a photo that still cannot be downloaded is given up, so the
    # tweet is answered about the others instead of failing as a whole.
    last_attempt = tweet.attempts >= conf.max_attempts()
    with failures_recorded(tweet_pk):
        if tweet.media_lookup:
            _photos_look_up(tweet, give_up=last_attempt)
        problems = []
        for photo in tweet.photos.filter(status=Photo.Status.PENDING).select_related("tweet"):
            try:
                photo_fetch(photo, give_up=last_attempt)
            except TemporaryFailure as exc:
                problems.append(str(exc))  # the other photos go on
        if tweet_deleted_meanwhile(tweet_pk):
            return
        # With S3 events the stored object triggers recognition; if a retry finds photos
        # still waiting, the event evidently did not come, so they are recognised here.
        if not conf.s3_events() or tweet.attempts > 1:
            for photo_pk in tweet.photos.filter(status=Photo.Status.STORED).values_list("pk", flat=True):
                photo_recognise(photo_pk)
        if problems:
            raise TemporaryFailure("; ".join(problems))
        tweet_reply(tweet_pk)


def _photos_look_up(tweet: Tweet, *, give_up: bool) -> None:
    """Look the tweet's photos up on X (bot.services.hydrating).

    A post whose delivery carried some of its photos is answered about those when the lookup
    of the others cannot be done: X refused it, or it still fails on the last attempt."""
    try:
        tweet_hydrate(tweet.pk)
    except (PermanentFailure, TemporaryFailure) as exc:
        if not (isinstance(exc, PermanentFailure) or give_up) or not tweet.photos.exists():
            raise
        if Tweet.objects.filter(pk=tweet.pk, not_before__gt=timezone.now()).exists():
            raise  # held until X's rate limit resets (a free round): the lookup goes on then
        logger.warning("tweet %s: going on with the photos its delivery carried (%s)", tweet.x_id, exc)
        Tweet.objects.filter(pk=tweet.pk, media_lookup=True).update(media_lookup=False)


def photo_recognise_stored(key: str) -> bool:
    """The S3 ObjectCreated event for `key`: recognise that photo, then reply if the tweet is ready.

    Safe to receive twice: a photo already claimed or recognised is left alone. Returns
    whether this call recognised the photo.
    """
    if not key.startswith(PHOTO_PREFIX):
        return False
    photo = Photo.objects.filter(file=key).only("pk", "tweet_id").first()
    if photo is None:
        logger.info("S3 event for %s: no photo row has that key", key)
        return False
    with failures_recorded(photo.tweet_id):
        recognised = photo_recognise(photo.pk)
        if recognised:
            tweet_reply(photo.tweet_id)
        return recognised
    return False
