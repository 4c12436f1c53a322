"""The bot's steps. Views, admin actions, commands, Lambda handlers and tests call these.

Every step can be called again safely: work is claimed with conditional updates and
unique keys, so a redelivered post, a repeated S3 event or a second worker changes
nothing that is already done.
"""

from __future__ import annotations

import logging
import posixpath
from contextlib import contextmanager
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from bot import conf, dispatch, media, recognition, replies, x_api
from bot.events import ParsedDelivery, PostDeleteEvent, PostEvent, parse_delivery
from bot.models import Delivery, Label, Photo, Reply, Tweet

log = logging.getLogger(__name__)

PHOTO_PREFIX = "photos/"  # stored photos live at photos/<tweet id>/<position>.<ext>


class TemporaryFailure(Exception):
    """A step could not finish now (X or AWS failing, a timeout); the sweeper tries it again."""


class TweetFailure(Exception):
    """A step can never finish for this tweet (bad configuration, refused credentials)."""


class RecordingFailed(Exception):
    """A delivery could not be recorded as events; it was kept with outcome `failed` (args: its pk)."""


MAX_DETAIL = 4000  # characters of Delivery.detail
RATE_LIMIT_PATIENCE = timedelta(hours=48)  # how long rate-limited rounds are free
MAX_RATE_LIMIT_WAIT = timedelta(hours=25)  # X's longest window is a day
MAX_KINDS_KEPT = 100


# --- Recording deliveries ----------------------------------------------------------


def delivery_record_invalid(*, body: bytes, detail: str) -> Delivery:
    return Delivery.objects.create(body=body, size=len(body), outcome=Delivery.Outcome.INVALID, detail=detail[:1000])


def delivery_record(*, body: bytes, payload: dict) -> Delivery:
    """Record a validly signed delivery and every post in it, in one transaction.

    New posts that summon the bot are dispatched for processing after commit, once;
    a post we already have creates nothing and dispatches nothing.
    """
    try:
        parsed = parse_delivery(payload, bot_user_id=conf.x_bot_user_id())
        with transaction.atomic():
            delivery = Delivery.objects.create(
                body=body,
                size=len(body),
                outcome=Delivery.Outcome.RECORDED,
                for_user_id=parsed.for_user_id,
                event_kinds=list(parsed.kinds[:MAX_KINDS_KEPT]),
                detail="; ".join(parsed.problems)[:MAX_DETAIL],
            )
            # Every post's row in one order (a creation before its deletion), so deliveries
            # sharing posts cannot deadlock.
            for event in sorted((*parsed.posts, *parsed.deletions), key=_id_order):
                if isinstance(event, PostDeleteEvent):
                    tweet_mark_deleted(event.tweet_id, delivery=delivery, author_id=event.user_id)
                else:
                    _tweet_record(event, delivery=delivery, parsed=parsed)
    except Exception as exc:
        # Our failure, not the sender's: keep the delivery (it can be replayed) and let X retry.
        log.exception("could not record a delivery of %d bytes", len(body))
        failed = Delivery.objects.create(
            body=body, size=len(body), outcome=Delivery.Outcome.FAILED, detail=f"could not record it: {type(exc).__name__}: {exc}"[:MAX_DETAIL]
        )
        raise RecordingFailed(failed.pk) from exc
    return delivery


def _id_order(event: PostEvent | PostDeleteEvent) -> tuple[int, str, bool]:
    return (len(event.tweet_id), event.tweet_id, isinstance(event, PostDeleteEvent))


def _tweet_record(post: PostEvent, *, delivery: Delivery, parsed: ParsedDelivery) -> Tweet | None:
    """Create the Tweet and its Photo rows; None when the post is already known."""
    reason = post.skip_reason or _other_account_reason(parsed.for_user_id)
    try:
        with transaction.atomic():
            tweet = Tweet.objects.create(
                tweet_id=post.tweet_id,
                delivery=delivery,
                for_user_id=parsed.for_user_id,
                author_id=post.author_id,
                author_username=post.author_username,
                text=post.text,
                posted_at=post.posted_at,
                in_reply_to_tweet_id=post.in_reply_to_tweet_id,
                in_reply_to_user_id=post.in_reply_to_user_id,
                **_post_flags(post),
                status=Tweet.Status.SKIPPED if reason else Tweet.Status.RECEIVED,
                skip_reason=reason,
            )
    except IntegrityError:
        # Someone already has it: a redelivery, a concurrent copy of this one, or X's copy
        # for another subscribed account, which may have been skipped from that account's view.
        if not reason:
            _tweet_take_over(post, delivery=delivery, parsed=parsed)
        return None
    Photo.objects.bulk_create(
        Photo(
            tweet=tweet,
            position=ref.position,
            media_key=ref.media_key,
            media_type=ref.media_type,
            source_url=ref.url,
            is_thumbnail=ref.is_thumbnail,
        )
        for ref in post.photos
    )
    if not reason:
        dispatch.dispatch_on_commit("tweet_process", tweet.pk)
    return tweet


def _tweet_take_over(post: PostEvent, *, delivery: Delivery, parsed: ParsedDelivery) -> bool:
    """The bot's own copy of a post first recorded, and skipped, from another account's delivery."""
    pk = (
        Tweet.objects.filter(tweet_id=post.tweet_id, status=Tweet.Status.SKIPPED)
        .exclude(for_user_id=parsed.for_user_id)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        return False
    # Still skipped: a concurrent copy of this delivery may have taken it over meanwhile.
    taken = Tweet.objects.filter(pk=pk, status=Tweet.Status.SKIPPED).update(
        status=Tweet.Status.RECEIVED,
        skip_reason="",
        delivery=delivery,
        for_user_id=parsed.for_user_id,
        **_post_flags(post),
        updated_at=timezone.now(),
    )
    if taken:
        dispatch.dispatch_on_commit("tweet_process", pk)
    return bool(taken)


def _post_flags(post: PostEvent) -> dict[str, bool]:
    """The post's flags as Tweet fields; who is "the bot" depends on the delivery's account."""
    return {
        "is_own": post.is_own,
        "is_repost": post.is_repost,
        "is_quote": post.is_quote,
        "mentions_bot": post.mentions_bot,
        "replies_to_bot": post.replies_to_bot,
        "quotes_bot": post.quotes_bot,
    }


def _other_account_reason(for_user_id: str) -> str:
    """Why a delivery for another subscribed account is not answered: the bot would reply as itself."""
    bot_user_id = conf.x_bot_user_id()
    if bot_user_id and for_user_id and for_user_id != bot_user_id:
        return f"delivered for account {for_user_id}, but the bot posts as {bot_user_id}"
    return ""


def tweet_mark_deleted(tweet_id: str, *, delivery: Delivery | None = None, author_id: str = "") -> bool:
    """The author deleted the post: stop work on it and remove its stored photos.

    With the delivery that says so, a post we do not have yet is recorded as deleted, so
    that its creation, delivered late or concurrently, is never answered.
    """
    now = timezone.now()
    pk = Tweet.objects.filter(tweet_id=tweet_id).exclude(status=Tweet.Status.DELETED).values_list("pk", flat=True).first()
    if pk is not None:
        marked = Tweet.objects.filter(pk=pk).exclude(status=Tweet.Status.DELETED).update(
            status=Tweet.Status.DELETED, deleted_at=now, photos_cleanup=True, updated_at=now
        )
        if marked:
            dispatch.dispatch_on_commit("tweet_photos_delete", pk)
        return bool(marked)
    if delivery is None or Tweet.objects.filter(tweet_id=tweet_id).exists():
        return False
    try:
        with transaction.atomic():
            Tweet.objects.create(
                tweet_id=tweet_id,
                delivery=delivery,
                for_user_id=delivery.for_user_id,
                author_id=author_id,
                status=Tweet.Status.DELETED,
                deleted_at=now,
                skip_reason="deleted before the post itself was delivered",
            )
    except IntegrityError:  # its creation was being recorded at the same moment
        return tweet_mark_deleted(tweet_id)
    return True


def tweet_photos_delete(tweet_pk: int) -> int:
    """Delete the stored files of a tweet's photos; the rows and labels stay. Returns files deleted."""
    deleted = 0
    for photo in Photo.objects.filter(tweet_id=tweet_pk).exclude(file=""):
        name = photo.file.name
        photo.file.storage.delete(name)
        Photo.objects.filter(pk=photo.pk, file=name).update(file="")
        deleted += 1
    return deleted




# --- Processing a tweet: fetch → store → recognise → reply → clean up ---------------


def tweet_process(tweet_pk: int) -> None:
    """Take a received tweet through the pipeline. Only one worker can claim it."""
    claimed = Tweet.objects.filter(pk=tweet_pk, status=Tweet.Status.RECEIVED).update(
        status=Tweet.Status.PROCESSING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not claimed:
        return
    tweet = Tweet.objects.get(pk=tweet_pk)
    # On the last attempt a photo that still cannot be downloaded is given up, so the
    # post is answered about the others instead of failing as a whole.
    last_attempt = tweet.attempts >= conf.max_attempts()
    with _failures_recorded(tweet_pk):
        problems = []
        for photo in tweet.photos.filter(status=Photo.Status.PENDING).select_related("tweet"):
            try:
                photo_fetch(photo, give_up=last_attempt)
            except TemporaryFailure as exc:
                problems.append(str(exc))  # the other photos go on
        if _deleted_meanwhile(tweet_pk):
            return
        # With S3 events the stored object triggers recognition; if a retry finds photos
        # still waiting, the event evidently did not come, so they are recognised here.
        if not conf.s3_events() or tweet.attempts > 1:
            for photo_pk in tweet.photos.filter(status=Photo.Status.STORED).values_list("pk", flat=True):
                photo_recognise(photo_pk)
        if problems:
            raise TemporaryFailure("; ".join(problems))
        tweet_reply(tweet_pk)


def photo_fetch(photo: Photo, *, give_up: bool = False) -> None:
    """Download, validate and store one photo. A photo that cannot be used is failed; the others go on.

    give_up: a temporary failure fails the photo too (the post's last attempt).
    """
    Photo.objects.filter(pk=photo.pk).update(attempts=F("attempts") + 1, updated_at=timezone.now())
    try:
        image = media.fetch_image(photo.source_url)
    except media.MediaError as exc:
        if exc.permanent or give_up:
            reason = exc.reason if exc.permanent else f"gave up: {exc.reason}"
            Photo.objects.filter(pk=photo.pk, status=Photo.Status.PENDING).update(status=Photo.Status.FAILED, last_error=reason)
            return
        Photo.objects.filter(pk=photo.pk).update(last_error=exc.reason)
        raise TemporaryFailure(f"photo {photo.position + 1}: {exc.reason}") from exc
    name = f"{PHOTO_PREFIX}{photo.tweet.tweet_id}/{photo.position}.{image.extension}"
    # Marked stored before the object exists, so an S3 event can never find the row behind.
    Photo.objects.filter(pk=photo.pk, status=Photo.Status.PENDING).update(
        status=Photo.Status.STORED,
        file=name,
        content_type=image.content_type,
        size=len(image.content),
        width=image.width,
        height=image.height,
        last_error="",
    )
    try:
        # A retry replaces the object (S3 overwrites; a folder would add a renamed copy instead).
        if not getattr(default_storage, "file_overwrite", False) and default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(image.content))
    except Exception as exc:
        Photo.objects.filter(pk=photo.pk, status=Photo.Status.STORED).update(status=Photo.Status.PENDING, file="", last_error=f"storage: {exc}")
        raise TemporaryFailure(f"photo {photo.position + 1}: could not store it: {exc}") from exc
    # The post was deleted while this photo was on its way: its files were removed before
    # this one existed, so it goes now.
    if not Photo.objects.filter(pk=photo.pk, file=saved).exclude(tweet__status=Tweet.Status.DELETED).exists():
        default_storage.delete(saved)


def photo_stored(key: str) -> bool:
    """An S3 ObjectCreated event for `key`: recognise that photo, then reply if the tweet is ready.

    Safe to receive twice: a photo already claimed or recognised is left alone. Returns
    whether this call recognised the photo.
    """
    if not key.startswith(PHOTO_PREFIX):
        return False
    photo = Photo.objects.filter(file=key).only("pk", "tweet_id").first()
    if photo is None:
        log.info("S3 event for %s: no photo row has that key", key)
        return False
    with _failures_recorded(photo.tweet_id):
        recognised = photo_recognise(photo.pk)
        if recognised:
            tweet_reply(photo.tweet_id)
        return recognised
    return False


def photo_recognise(photo_pk: int) -> bool:
    """Recognise one stored photo: exactly one DetectLabels and one DetectModerationLabels call."""
    claimed = Photo.objects.filter(pk=photo_pk, status=Photo.Status.STORED).update(status=Photo.Status.RECOGNISING, updated_at=timezone.now())
    if not claimed:
        return False
    photo = Photo.objects.get(pk=photo_pk)
    _tweet_touch(photo.tweet_id)
    try:
        image = _rekognition_image(photo)
        # DetectLabels answers once per photo: a retry after a failed moderation call asks only for that.
        detection = recognition.detect(image, with_labels=not photo.labels_detected)
    except recognition.RecognitionError as exc:
        if exc.labels_found is not None:
            _labels_keep(photo_pk, exc.labels_found)
            Photo.objects.filter(pk=photo_pk).update(labels_detected=True)
        if exc.code == "InvalidS3ObjectException" and not photo.file.storage.exists(photo.file.name):
            # The worker died between marking it stored and writing it: fetch it again.
            Photo.objects.filter(pk=photo_pk, status=Photo.Status.RECOGNISING).update(status=Photo.Status.PENDING, file="", last_error=f"stored object missing: {exc.reason}")
            raise TemporaryFailure(f"photo {photo.position + 1}: stored object missing") from exc
        if exc.permanent and exc.about_photo:
            Photo.objects.filter(pk=photo_pk, status=Photo.Status.RECOGNISING).update(status=Photo.Status.FAILED, last_error=exc.reason)
            return True
        Photo.objects.filter(pk=photo_pk, status=Photo.Status.RECOGNISING).update(status=Photo.Status.STORED, last_error=exc.reason)
        raise (TweetFailure if exc.permanent else TemporaryFailure)(exc.reason) from exc
    except OSError as exc:  # the stored file vanished: fetch it again
        Photo.objects.filter(pk=photo_pk, status=Photo.Status.RECOGNISING).update(status=Photo.Status.PENDING, file="", last_error=f"stored file unreadable: {exc}")
        raise TemporaryFailure(f"photo {photo.position + 1}: stored file unreadable: {exc}") from exc
    with transaction.atomic():
        _labels_keep(photo_pk, (*detection.labels, *detection.moderation_labels))
        Photo.objects.filter(pk=photo_pk, status=Photo.Status.RECOGNISING).update(
            status=Photo.Status.RECOGNISED, flagged=detection.flagged, labels_detected=True, last_error=""
        )
    return True


def _labels_keep(photo_pk: int, labels) -> None:
    Label.objects.bulk_create(
        [
            Label(photo_id=photo_pk, name=label.name[:200], confidence=label.confidence, parents=list(label.parents), categories=list(label.categories), is_moderation=label.moderation)
            for label in labels
        ],
        ignore_conflicts=True,
    )


def _tweet_touch(tweet_pk: int) -> None:
    """A worker is on this tweet now: the sweeper leaves it alone for another sweep delay."""
    Tweet.objects.filter(pk=tweet_pk, status__in=Tweet.PENDING_STATUSES).update(updated_at=timezone.now())


def _rekognition_image(photo: Photo) -> dict:
    storage = photo.file.storage
    bucket = getattr(storage, "bucket_name", None)
    if bucket:  # in S3: Rekognition reads the object itself
        return recognition.image_from_s3(bucket, posixpath.join(storage.location, photo.file.name))
    with storage.open(photo.file.name, "rb") as stored:
        return recognition.image_from_bytes(stored.read())


def tweet_reply(tweet_pk: int) -> None:
    """Once every photo is settled: compose the reply, post it once, clean up, settle the tweet."""
    if _deleted_meanwhile(tweet_pk):
        return
    tweet = Tweet.objects.get(pk=tweet_pk)
    if tweet.status != Tweet.Status.PROCESSING:
        return  # already settled
    photos = list(tweet.photos.prefetch_related("labels"))
    if any(photo.status not in Photo.SETTLED_STATUSES for photo in photos):
        return
    reply, _ = Reply.objects.get_or_create(tweet=tweet, defaults={"text": reply_text(tweet, photos)})
    reply_post(reply.pk)
    reply.refresh_from_db()
    if reply.status not in Reply.SETTLED_STATUSES:
        return
    done = reply.status in (Reply.Status.POSTED, Reply.Status.DRY_RUN)
    _tweet_settle(
        tweet_pk,
        status=Tweet.Status.DONE if done else Tweet.Status.FAILED,
        last_error="" if done else f"reply: {reply.last_error}",
        still={"status": Tweet.Status.PROCESSING},
    )


def _tweet_settle(tweet_pk: int, *, status: str, last_error: str, still: dict) -> bool:
    """Give a tweet its final status if it is `still` as the caller saw it; its stored photos go then."""
    cleanup = not conf.keep_photos()
    settled = Tweet.objects.filter(pk=tweet_pk, **still).update(
        status=status, last_error=last_error[:2000], photos_cleanup=cleanup, updated_at=timezone.now()
    )
    if settled and cleanup:
        tweet_photos_delete(tweet_pk)
    return bool(settled)


def _deleted_meanwhile(tweet_pk: int) -> bool:
    """The author deleted the post while it was being processed: drop what was stored since."""
    if not Tweet.objects.filter(pk=tweet_pk, status=Tweet.Status.DELETED).exists():
        return False
    tweet_photos_delete(tweet_pk)
    return True


def reply_text(tweet: Tweet, photos: list[Photo], *, variant: int = 0) -> str:
    """The reply's text in wording `variant` (see replies.compose_reply)."""
    recognised = [photo for photo in photos if photo.status == Photo.Status.RECOGNISED]
    labels = [
        recognition.DetectedLabel(name=label.name, confidence=label.confidence, parents=tuple(label.parents), categories=tuple(label.categories))
        for photo in recognised
        for label in photo.labels.all()
        if not label.is_moderation
    ]
    return replies.compose_reply(
        username=tweet.author_username,
        photo_count=len(photos),
        usable_photo_count=len(recognised),
        labels=replies.merge_labels(labels),
        flagged=any(photo.flagged for photo in recognised),
        variant=variant,
        reference=_post_reference(tweet),
    )


def _post_reference(tweet: Tweet) -> str:
    """Words that tell this post apart from the author's others, for the last wording."""
    if tweet.posted_at is None:
        return ""
    moment = tweet.posted_at.astimezone(dt_timezone.utc)
    return f"about your post of {moment.day} {moment:%b, %H:%M:%S} UTC"


def reply_post(reply_pk: int) -> None:
    """Post the reply at most once: claimed with a conditional update before X is called."""
    claimed = Reply.objects.filter(pk=reply_pk, status=Reply.Status.PENDING).update(
        status=Reply.Status.POSTING, attempts=F("attempts") + 1, claimed_at=timezone.now()
    )
    if not claimed:
        return
    reply = Reply.objects.select_related("tweet").get(pk=reply_pk)
    _tweet_touch(reply.tweet_id)
    posting = Reply.objects.filter(pk=reply_pk, status=Reply.Status.POSTING)
    if conf.x_dry_run():
        log.info("dry run: reply to %s not posted: %s", reply.tweet.tweet_id, reply.text)
        posting.update(status=Reply.Status.DRY_RUN, last_error="")
        return
    try:
        reply_tweet_id = x_api.post_reply(reply.text, in_reply_to_tweet_id=reply.tweet.tweet_id)
    except x_api.XApiError as exc:
        if exc.maybe_delivered:
            reply.maybe_posted_at = timezone.now()
            Reply.objects.filter(pk=reply_pk).update(maybe_posted_at=reply.maybe_posted_at)
        if exc.duplicate:
            _reply_settle_duplicate(reply, exc)
        elif exc.permanent:
            posting.update(status=Reply.Status.FAILED, last_error=exc.message)
        else:
            posting.update(status=Reply.Status.PENDING, last_error=exc.message)
            if exc.status == 429 and exc.retry_after and exc.retry_after > conf.x_max_rate_limit_wait():
                _tweet_wait_for_rate_limit(reply.tweet_id, exc.retry_after)
            raise TemporaryFailure(f"reply: {exc.message}") from exc
        return
    posting.update(status=Reply.Status.POSTED, reply_tweet_id=reply_tweet_id, posted_at=timezone.now(), last_error="")


def _tweet_wait_for_rate_limit(tweet_pk: int, seconds: float) -> None:
    """X's limit is spent for longer than a step may wait (a daily cap, say): the sweeper
    comes back after the reset, and this round does not count against the attempt limit.

    Only while the post is younger than RATE_LIMIT_PATIENCE: an account that stays
    limited uses up its attempts like any other failure, so every post ends settled.
    """
    now = timezone.now()
    Tweet.objects.filter(pk=tweet_pk, attempts__gt=0, received_at__gt=now - RATE_LIMIT_PATIENCE).update(
        not_before=now + min(timedelta(seconds=seconds), MAX_RATE_LIMIT_WAIT), attempts=F("attempts") - 1
    )


def _timeline_had_time(maybe_posted_at, search: x_api.TimelineSearch) -> bool:
    """Whether a reply missing from the timeline means the uncertain attempt did not post it:
    the timeline had a sweep delay to catch up, and shows what else the refusal is about."""
    caught_up = timezone.now() - maybe_posted_at >= timedelta(seconds=conf.sweep_after_seconds())
    return caught_up and search.same_text_elsewhere


def _reply_settle_duplicate(reply: Reply, refusal: x_api.XApiError) -> None:
    """X refused the text as a duplicate: posted by an attempt whose answer was lost, or not at all?

    Only the bot's own timeline can say; a refusal alone is never taken as "posted". The
    next wording is tried when no attempt can have reached X. When one may have, the
    reply may just not show on the timeline yet: it is looked for again at later sweeps,
    and reworded only once the timeline had a sweep delay to catch up and shows the same
    text answering another post. Never a second reply in the thread.
    """
    posting = Reply.objects.filter(pk=reply.pk, status=Reply.Status.POSTING)
    try:
        search = x_api.reply_find(reply.tweet.tweet_id, text=reply.text, bot_user_id=reply.tweet.for_user_id)
    except x_api.XApiError as exc:
        posting.update(status=Reply.Status.PENDING, last_error=f"{refusal.message}; looking for an earlier reply failed: {exc.message}")
        raise TemporaryFailure(f"reply: could not tell whether it was posted: {exc.message}") from exc
    if search.reply_id:
        posting.update(status=Reply.Status.POSTED, reply_tweet_id=search.reply_id, posted_at=timezone.now(), last_error="")
        return
    if reply.maybe_posted_at is not None and not _timeline_had_time(reply.maybe_posted_at, search):
        posting.update(status=Reply.Status.PENDING, last_error=f"{refusal.message}; an earlier attempt may have posted it, not on the timeline yet")
        raise TemporaryFailure("reply: X calls it a duplicate and an earlier attempt may have posted it; looking again later")
    variant = reply.variant + 1
    if variant >= replies.REPLY_VARIANTS:
        posting.update(status=Reply.Status.FAILED, last_error=f"{refusal.message} (every wording already answered other posts)")
        return
    tweet = reply.tweet
    other_words = reply_text(tweet, list(tweet.photos.prefetch_related("labels")), variant=variant)
    if posting.update(status=Reply.Status.PENDING, text=other_words, variant=variant, last_error=refusal.message):
        reply_post(reply.pk)


@contextmanager
def _failures_recorded(tweet_pk: int):
    """Keep a step's failure on the tweet row: temporary ones for the sweeper, permanent ones final."""
    try:
        yield
    except TweetFailure as exc:
        tweet_fail(tweet_pk, str(exc))
    except TemporaryFailure as exc:
        _tweet_note_error(tweet_pk, str(exc))
    except Exception as exc:  # a bug: keep it on the row for the sweeper, and let it be seen
        _tweet_note_error(tweet_pk, f"{type(exc).__name__}: {exc}")
        raise


def _tweet_note_error(tweet_pk: int, reason: str) -> None:
    Tweet.objects.filter(pk=tweet_pk, status__in=Tweet.PENDING_STATUSES).update(last_error=reason[:2000], updated_at=timezone.now())
    log.warning("tweet pk %s: %s (the sweeper will try again)", tweet_pk, reason)


def tweet_fail(tweet_pk: int, reason: str) -> bool:
    """Settle a tweet as failed with its reason; its stored photos go as after a reply."""
    failed = _tweet_settle(tweet_pk, status=Tweet.Status.FAILED, last_error=reason, still={"status__in": Tweet.PENDING_STATUSES})
    if failed:
        log.error("tweet pk %s failed: %s", tweet_pk, reason)
    return failed


# --- The sweeper --------------------------------------------------------------------


def sweep() -> dict:
    """Re-dispatch tweets stuck in a non-final state; fail those out of attempts. Nothing is dropped."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=conf.sweep_after_seconds())
    limit = conf.max_attempts()
    counts = {"redispatched": 0, "failed": 0}
    stuck = Tweet.objects.filter(status__in=Tweet.PENDING_STATUSES, updated_at__lt=cutoff).exclude(not_before__gt=now)
    for tweet in stuck.only("pk", "status", "attempts", "last_error", "updated_at"):
        unchanged = {"status": tweet.status, "updated_at": tweet.updated_at}  # nobody touched it since
        if tweet.attempts >= limit:
            reason = f"gave up after {tweet.attempts} attempts: {tweet.last_error or 'the worker stopped without an error'}"
            counts["failed"] += _tweet_settle(tweet.pk, status=Tweet.Status.FAILED, last_error=reason, still=unchanged)
            continue
        with transaction.atomic():
            if not Tweet.objects.filter(pk=tweet.pk, **unchanged).update(status=Tweet.Status.RECEIVED, updated_at=now):
                continue  # someone is working on it right now
            # Steps a dead worker left half-way are opened again; the claims keep them single.
            # A step claimed recently may still be running (an S3 event's worker): left alone.
            Photo.objects.filter(tweet_id=tweet.pk, status=Photo.Status.RECOGNISING, updated_at__lt=cutoff).update(status=Photo.Status.STORED)
            # A worker stopped while posting may have posted: never reworded, only looked for.
            Reply.objects.filter(tweet_id=tweet.pk, status=Reply.Status.POSTING, claimed_at__lt=cutoff).update(
                status=Reply.Status.PENDING, maybe_posted_at=F("claimed_at")
            )
            dispatch.dispatch_on_commit("tweet_process", tweet.pk)
        counts["redispatched"] += 1
    counts["photos_deleted"] = _leftover_photos_delete(cutoff)
    return counts


def _leftover_photos_delete(cutoff) -> int:
    """Files a failed clean-up left behind (photos kept on purpose are not marked for clean-up)."""
    leftovers = (
        Photo.objects.filter(tweet__photos_cleanup=True, tweet__updated_at__lt=cutoff)
        .exclude(file="")
        .values_list("tweet_id", flat=True)
        .distinct()
    )
    return sum(tweet_photos_delete(tweet_pk) for tweet_pk in leftovers)
