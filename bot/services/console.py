"""What an operator does from the console: re-run, retry, post for real, delete photos, try a photo.

Each takes row ids and returns an `Outcome`: what was done and, for every row it refused,
why in plain words; the admin reports both with message_user. Every change is a status
move from the models' TRANSITIONS tables, so a row another worker has moved meanwhile is
refused, never taken twice: a reply posted once is never posted again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from bot import conf, dispatch
from bot.models import Photo, Reply, Tweet
from bot.services.errors import TemporaryFailure
from bot.services.processing import tweet_process
from bot.services.replying import reply_post
from bot.services.storage import photo_storage_name, storage_replace, tweet_photos_delete
from bot.services.sweeping import stuck_tweets, tweet_reopen

logger = logging.getLogger(__name__)

TRIAL_MAX_PHOTOS = 4  # as many as a post can carry


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


# --- Tweets ------------------------------------------------------------------------------


def tweets_reprocess(tweet_pks: Iterable[int]) -> Outcome:
    """Run failed tweets through the pipeline again, and dispatch stuck ones now (as the sweeper would).

    A failed tweet starts afresh: attempts 0, its failed photos downloaded again (a trial's
    uploads cannot be), its failed reply tried again. When photos are fetched again, a failed
    reply that cannot have reached X is composed afresh from what they show."""
    outcome = Outcome()
    stuck = set(stuck_tweets().filter(pk__in=list(tweet_pks)).values_list("pk", flat=True))
    for tweet in Tweet.objects.filter(pk__in=list(tweet_pks)).only("pk", "x_id", "status", "updated_at", "is_trial"):
        if tweet.status == Tweet.Status.FAILED:
            if _tweet_reopen_failed(tweet, photos_too=not tweet.is_trial):
                outcome.done.append(f"{tweet}: running again")
            else:
                outcome.refused.append(f"{tweet}: changed meanwhile, left alone")
        elif tweet.pk in stuck:
            if tweet_reopen(tweet):
                outcome.done.append(f"{tweet}: was stuck, dispatched again")
            else:
                outcome.refused.append(f"{tweet}: a worker took it meanwhile")
        elif tweet.status in Tweet.PENDING_STATUSES:
            outcome.refused.append(f"{tweet}: being worked on; the sweeper takes it if it stays untouched {conf.sweep_after_seconds()} s")
        else:
            outcome.refused.append(f"{tweet}: {tweet.get_status_display()}, nothing to re-run")
    return outcome


def _tweet_reopen_failed(tweet: Tweet, *, photos_too: bool, reply_only: bool = False) -> bool:
    with transaction.atomic():
        reopened = Tweet.objects.filter(pk=tweet.pk).move(
            Tweet.Status.FAILED, Tweet.Status.RECEIVED, attempts=0, last_error="", not_before=None, photos_cleanup=False
        )
        if not reopened:
            return False
        photos_again = 0
        if photos_too and not reply_only:
            photos_again = Photo.objects.filter(tweet_id=tweet.pk, file="").move(
                Photo.Status.FAILED, Photo.Status.PENDING, attempts=0, last_error=""
            )
        failed_reply = Reply.objects.filter(tweet_id=tweet.pk, status=Reply.Status.FAILED)
        if photos_again and failed_reply.filter(maybe_posted_at__isnull=True, x_id="").exists():
            failed_reply.delete()  # never on X: composed again from what the photos show now
        else:
            failed_reply.move(Reply.Status.FAILED, Reply.Status.PENDING, attempts=0, last_error="")
        dispatch.dispatch_on_commit(tweet_process, tweet.pk)
    logger.info("operator: %s runs again", tweet)
    return True


def tweets_photos_delete(tweet_pks: Iterable[int]) -> Outcome:
    """Delete the stored photo files of settled tweets (their rows and labels stay)."""
    outcome = Outcome()
    for tweet in Tweet.objects.filter(pk__in=list(tweet_pks)).only("pk", "x_id", "status"):
        if tweet.status in Tweet.PENDING_STATUSES:
            outcome.refused.append(f"{tweet}: still being processed; its photos are needed")
            continue
        deleted = tweet_photos_delete(tweet.pk)
        if deleted:
            outcome.done.append(f"{tweet}: {deleted} stored photo{'s' if deleted != 1 else ''} deleted")
        else:
            outcome.refused.append(f"{tweet}: no stored photos")
    return outcome


# --- Replies -----------------------------------------------------------------------------


def replies_retry(reply_pks: Iterable[int]) -> Outcome:
    """Try failed replies again: the reply pending, its tweet running again (photos as they are)."""
    outcome = Outcome()
    for reply in Reply.objects.filter(pk__in=list(reply_pks)).select_related("tweet"):
        if reply.status != Reply.Status.FAILED:
            outcome.refused.append(f"{reply}: only a failed reply is retried")
        elif reply.tweet.status != Tweet.Status.FAILED:
            outcome.refused.append(f"{reply}: its tweet is {reply.tweet.get_status_display()}")
        elif _tweet_reopen_failed(reply.tweet, photos_too=False, reply_only=True):
            outcome.done.append(f"{reply}: trying again")
        else:
            outcome.refused.append(f"{reply}: changed meanwhile, left alone")
    return outcome


def replies_post_for_real(reply_pks: Iterable[int]) -> Outcome:
    """Post dry-run replies now that the bot may post: each at most once.

    Also takes a reply a "post for real" left pending (X failed for the moment) on a settled tweet."""
    outcome = Outcome()
    replies = list(Reply.objects.filter(pk__in=list(reply_pks)).select_related("tweet"))
    if conf.x_dry_run():
        outcome.refused += [f"{reply}: X_DRY_RUN is on (or X_ACCESS_TOKEN is not set): nothing is posted" for reply in replies]
        return outcome
    missing = [
        name
        for name, value in (
            ("X_CONSUMER_KEY", conf.x_consumer_key()),
            ("X_CONSUMER_SECRET", conf.x_consumer_secret()),
            ("X_ACCESS_TOKEN", conf.x_access_token()),
            ("X_ACCESS_TOKEN_SECRET", conf.x_access_token_secret()),
        )
        if not value
    ]
    if missing:
        outcome.refused += [f"{reply}: set {', '.join(missing)} first" for reply in replies]
        return outcome
    for reply in replies:
        tweet = reply.tweet
        if tweet.is_trial:
            outcome.refused.append(f"{reply}: a trial answers no post on X")
        elif reply.status == Reply.Status.POSTED:
            outcome.refused.append(f"{reply}: already posted (X id {reply.x_id})")
        elif tweet.status == Tweet.Status.DELETED:
            outcome.refused.append(f"{reply}: its tweet was deleted")
        elif (reply.status == Reply.Status.PENDING and tweet.status == Tweet.Status.DONE) or (
            reply.status == Reply.Status.DRY_RUN
            and Reply.objects.filter(pk=reply.pk).move(Reply.Status.DRY_RUN, Reply.Status.PENDING, last_error="")
        ):
            _reply_post_now(reply, outcome)
        else:
            outcome.refused.append(f"{reply}: only a dry-run reply is posted for real")
    return outcome


def _reply_post_now(reply: Reply, outcome: Outcome) -> None:
    try:
        reply_post(reply.pk)
    except TemporaryFailure as exc:
        outcome.refused.append(f"{reply}: not posted yet ({exc}); post it for real again later")
        return
    reply.refresh_from_db()
    if reply.status == Reply.Status.POSTED:
        outcome.done.append(f"reply to {reply.tweet.x_id} posted as {reply.x_id}")
        logger.info("operator: dry-run reply to %s posted as %s", reply.tweet.x_id, reply.x_id)
    else:
        outcome.refused.append(f"{reply}: {reply.last_error or 'not posted'}")


# --- Trying a photo ---------------------------------------------------------------------------


class TrialRefused(ValueError):
    """The uploads cannot be tried: the message says why."""


def trial_record(uploads: Sequence[tuple[str, bytes]], *, username: str = "") -> Tweet:
    """Record uploaded photos as a trial tweet and run it through the real pipeline, replying in dry run.

    The photos are validated and stored as downloaded ones are (media.prepare_image), the
    recogniser labels them, and the reply is composed and recorded, never posted (the tweet
    is a trial). Processing runs now, in the caller's thread, except that with S3 events the
    stored photos' events bring recognition, as for any tweet."""
    if not 1 <= len(uploads) <= TRIAL_MAX_PHOTOS:
        raise TrialRefused(f"choose 1 to {TRIAL_MAX_PHOTOS} photos")
    from bot import media  # Pillow: imported when a photo is tried, not with the admin on a cold start

    prepared = []
    for name, data in uploads:
        try:
            prepared.append((name, media.prepare_image(data)))
        except media.MediaError as exc:
            raise TrialRefused(f"{name}: {exc.reason}") from None
    tweet = _trial_tweet(username, len(prepared))
    for position, (name, image) in enumerate(prepared):
        storage_name = photo_storage_name(tweet_x_id=tweet.x_id, position=position, extension=image.extension)
        photo = Photo.objects.create(tweet=tweet, position=position, source_url=f"upload:{name}"[:1000])
        Photo.objects.filter(pk=photo.pk).move(
            Photo.Status.PENDING,
            Photo.Status.STORED,
            file=storage_name,
            content_type=image.content_type,
            size=len(image.content),
            width=image.width,
            height=image.height,
        )
        storage_replace(storage_name, image.content)
    try:
        tweet_process(tweet.pk)
    except TemporaryFailure as exc:  # kept on the row, for the sweeper like any tweet
        logger.info("trial %s: %s", tweet.x_id, exc)
    tweet.refresh_from_db()
    return tweet


def _trial_tweet(username: str, photo_count: int) -> Tweet:
    """A trial's id starts with 0, which no X id does: it never meets a real post."""
    for _ in range(5):
        x_id = f"0{time.time_ns() % 10**19:019d}"
        try:
            with transaction.atomic():
                return Tweet.objects.create(
                    x_id=x_id,
                    author_x_id="0",
                    author_username=username[:50] or "trial",
                    text=f"(tried on the console with {photo_count} photo{'s' if photo_count != 1 else ''})",
                    posted_at=timezone.now(),
                    status=Tweet.Status.RECEIVED,
                    mentions_bot=True,
                    is_trial=True,
                )
        except IntegrityError:
            continue
    raise TrialRefused("could not record the trial: try again")
