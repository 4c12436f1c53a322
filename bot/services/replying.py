"""Replying: compose the reply once every photo is settled, post it once, settle the tweet.

A reply is claimed (pending -> posting) before X is called, so it is posted at most
once. An earlier attempt that may have reached X (`maybe_posted_at`: a lost answer, a
5xx, a worker gone while posting) is looked for on the bot's own timeline before the
reply is posted again. When X refuses a wording as a duplicate, only that timeline can
say whether an earlier attempt posted it; the next wording is tried only when none can have.

bot.replies (and its text counter, twitter_text with its emoji tables) is imported when a
reply is composed or posted, and bot.x_api (requests, requests-oauthlib) when X is
called, not with this module: the webhook imports the services and never composes a
reply, and on Lambda every import is paid on the cold start.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import F
from django.utils import timezone

from bot import conf, recognition
from bot.models import Photo, Reply, Tweet
from bot.services import pacing
from bot.services.errors import TemporaryFailure
from bot.services.settling import tweet_deleted_meanwhile, tweet_settle, tweet_touch, tweet_wait_for_rate_limit

if TYPE_CHECKING:
    from bot import x_api

logger = logging.getLogger(__name__)


def tweet_reply(tweet_pk: int) -> None:
    """Once every photo is settled: compose the reply, post it once, clean up, settle the tweet."""
    if tweet_deleted_meanwhile(tweet_pk):
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
    if reply.status in (Reply.Status.POSTED, Reply.Status.DRY_RUN):
        tweet_settle(tweet_pk, source=Tweet.Status.PROCESSING, target=Tweet.Status.DONE)
    else:
        tweet_settle(tweet_pk, source=Tweet.Status.PROCESSING, target=Tweet.Status.FAILED, last_error=f"reply: {reply.last_error}")


def reply_text(tweet: Tweet, photos: list[Photo], *, variant: int = 0) -> str:
    """The reply's text in wording `variant` (see replies.compose_reply)."""
    recognised = [photo for photo in photos if photo.status == Photo.Status.RECOGNISED]
    labels = [
        recognition.DetectedLabel(
            name=label.name, confidence=label.confidence, parents=tuple(label.parents), categories=tuple(label.categories)
        )
        for photo in recognised
        for label in photo.labels.all()
        if not label.is_moderation
    ]
    from bot import replies  # imported when used (see above)

    return replies.compose_reply(
        username=tweet.author_username,
        photo_count=len(photos),
        usable_photo_count=len(recognised),
        labels=replies.merge_labels(labels),
        flagged=any(photo.flagged for photo in recognised),
        variant=variant,
        reference=_tweet_reference(tweet),
        **_photos_source(tweet),
    )


def _photos_source(tweet: Tweet) -> dict[str, str]:
    """Whose photos the reply describes, when they are not the author's own (bot.services.hydrating)."""
    if not tweet.photos_from_x_id:
        return {}
    photos_in = "quoted" if tweet.photos_from_x_id == tweet.quoted_x_id else "replied_to"
    return {"photos_in": photos_in, "photos_by": tweet.photos_from_username}


def _tweet_reference(tweet: Tweet) -> str:
    """Words that tell this tweet apart from every other, for the last wording: its X id, a bare
    number, which X shows as plain text ("about your post 1868…"). Its time would not do: an
    author can post several tweets in one second."""
    return f"about your post {tweet.x_id}"


def reply_post(reply_pk: int) -> None:
    """Post the reply at most once, trying the next wording while X calls one a duplicate of another answer."""
    from bot import replies  # imported when used (see above)

    looked = False
    for _wording in range(replies.REPLY_VARIANTS):
        if not _reply_post_wording(reply_pk, looked=looked):
            return
        looked = True  # the duplicate refusal just had the timeline read: no need to read it again first


def _reply_post_wording(reply_pk: int, *, looked: bool = False) -> bool:
    """One claim and one POST of the reply's current wording. True: reworded, pending again.

    looked: the bot's timeline was read a moment ago, by this worker, for this reply.
    """

    if not Reply.objects.filter(pk=reply_pk).move(Reply.Status.PENDING, Reply.Status.POSTING, claim=True, attempts=F("attempts") + 1):
        return False
    reply = Reply.objects.select_related("tweet").get(pk=reply_pk)
    tweet_touch(reply.tweet_id)
    this_reply = Reply.objects.filter(pk=reply_pk)
    if conf.x_dry_run() or reply.tweet.is_trial:  # a trial (the console's try-a-photo) answers no post on X
        logger.info("dry run: reply to %s not posted: %s", reply.tweet.x_id, reply.text)
        this_reply.move(Reply.Status.POSTING, Reply.Status.DRY_RUN, last_error="")
        return False
    if reply.maybe_posted_at is not None and not looked and _reply_found_before_posting(reply, reply.maybe_posted_at):
        return False
    held_until = pacing.reply_slot_take(reply.tweet_id)
    if held_until is not None:
        _reply_hold(reply, held_until)
        return False
    if reply.tweet.not_before is not None:
        Tweet.objects.filter(pk=reply.tweet_id).update(not_before=None)  # its turn came
    seen: list[x_api.RateLimit] = []

    def window_seen(limit: x_api.RateLimit) -> None:
        seen.append(limit)
        pacing.reply_rate_limit_record(limit)

    try:
        return _reply_posted(reply, window_seen)
    finally:
        if not seen:  # an answer that said nothing of the window (or none came): the next call may probe
            pacing.reply_probe_release()


def _reply_posted(reply: Reply, window_seen: x_api.RateLimitObserver) -> bool:
    """POST the claimed reply and record what X answered. True: reworded, pending again."""
    from bot import x_api  # imported when used (see above)

    this_reply = Reply.objects.filter(pk=reply.pk)
    try:
        reply_x_id = x_api.post_reply(reply.text, in_reply_to_tweet_id=reply.tweet.x_id, on_rate_limit=window_seen)
    except x_api.XApiError as exc:
        if exc.maybe_delivered:
            reply.maybe_posted_at = timezone.now()
            this_reply.update(maybe_posted_at=reply.maybe_posted_at)
        if exc.duplicate:
            return _reply_settle_duplicate(reply, exc)
        if exc.permanent:
            this_reply.move(Reply.Status.POSTING, Reply.Status.FAILED, last_error=exc.message)
            return False
        this_reply.move(Reply.Status.POSTING, Reply.Status.PENDING, last_error=exc.message)
        if exc.status == 429 and exc.retry_after and exc.retry_after > conf.x_max_rate_limit_wait():
            tweet_wait_for_rate_limit(reply.tweet_id, exc.retry_after)
        raise TemporaryFailure(f"reply: {exc.message}") from exc
    this_reply.move(Reply.Status.POSTING, Reply.Status.POSTED, x_id=reply_x_id, posted_at=timezone.now(), last_error="")
    return False


def _reply_hold(reply: Reply, until: datetime) -> None:
    """X's window is spent (or an older reply waits for it): pending until `until`, when the
    sweeper dispatches the tweet again. Waiting for the window is not an attempt."""
    Reply.objects.filter(pk=reply.pk).move(Reply.Status.POSTING, Reply.Status.PENDING, attempts=F("attempts") - 1)
    Tweet.objects.filter(pk=reply.tweet_id, attempts__gt=0).update(not_before=until, attempts=F("attempts") - 1)


def _timeline_caught_up(maybe_posted_at: datetime) -> bool:
    """Whether the bot's timeline had a sweep delay to show what an uncertain attempt may have posted."""
    return timezone.now() - maybe_posted_at >= timedelta(seconds=conf.sweep_after_seconds())


def _timeline_had_time(maybe_posted_at: datetime, search: x_api.TimelineSearch) -> bool:
    """Whether a reply missing from the timeline means the uncertain attempt did not post it:
    the timeline had a sweep delay to catch up, and shows what else the refusal is about."""
    return _timeline_caught_up(maybe_posted_at) and search.same_text_elsewhere


def _reply_found_before_posting(reply: Reply, maybe_posted_at: datetime) -> bool:
    """An earlier attempt may have posted this reply: look for it on the bot's timeline first.

    True: it is there, and the reply is recorded as posted with its id. False: it is not,
    and the timeline had a sweep delay to show it, so posting is safe. While the timeline
    may just not show it yet, or cannot be read, the reply is pending again and
    TemporaryFailure says so: a later sweep looks again. Never a second reply on a guess,
    whatever X's duplicate check would say (it can be off, and its window ends).
    """
    from bot import x_api  # imported when used (see above)

    this_reply = Reply.objects.filter(pk=reply.pk)
    try:
        search = x_api.reply_find(reply.tweet.x_id, text=reply.text, bot_user_id=reply.tweet.for_user_x_id)
    except x_api.XApiError as exc:
        this_reply.move(
            Reply.Status.POSTING,
            Reply.Status.PENDING,
            last_error=f"an earlier attempt may have posted it; looking for it failed: {exc.message}",
        )
        raise TemporaryFailure(f"reply: could not tell whether an earlier attempt posted it: {exc.message}") from exc
    if search.reply_id:
        this_reply.move(Reply.Status.POSTING, Reply.Status.POSTED, x_id=search.reply_id, posted_at=timezone.now(), last_error="")
        return True
    if not _timeline_caught_up(maybe_posted_at):
        this_reply.move(
            Reply.Status.POSTING,
            Reply.Status.PENDING,
            last_error="an earlier attempt may have posted it; not on the bot's timeline yet",
        )
        raise TemporaryFailure("reply: an earlier attempt may have posted it, not on the timeline yet; looking again later")
    return False


def _reply_settle_duplicate(reply: Reply, refusal: x_api.XApiError) -> bool:
    """X refused the text as a duplicate: posted by an attempt whose answer was lost, or not at all?

    Only the bot's own timeline can say; a refusal alone is never taken as "posted". The
    next wording is chosen (True) when no attempt can have reached X. When one may have,
    the reply may just not show on the timeline yet: it is looked for again at later
    sweeps, and reworded only once the timeline had a sweep delay to catch up and shows
    the same text answering another tweet. Never a second reply in the thread.
    """
    from bot import x_api  # imported when used (see above)

    this_reply = Reply.objects.filter(pk=reply.pk)
    try:
        search = x_api.reply_find(reply.tweet.x_id, text=reply.text, bot_user_id=reply.tweet.for_user_x_id)
    except x_api.XApiError as exc:
        this_reply.move(
            Reply.Status.POSTING, Reply.Status.PENDING, last_error=f"{refusal.message}; looking for an earlier reply failed: {exc.message}"
        )
        raise TemporaryFailure(f"reply: could not tell whether it was posted: {exc.message}") from exc
    if search.reply_id:
        this_reply.move(Reply.Status.POSTING, Reply.Status.POSTED, x_id=search.reply_id, posted_at=timezone.now(), last_error="")
        return False
    if reply.maybe_posted_at is not None and not _timeline_had_time(reply.maybe_posted_at, search):
        this_reply.move(
            Reply.Status.POSTING,
            Reply.Status.PENDING,
            last_error=f"{refusal.message}; an earlier attempt may have posted it, not on the timeline yet",
        )
        raise TemporaryFailure("reply: X calls it a duplicate and an earlier attempt may have posted it; looking again later")
    variant = reply.variant + 1
    from bot import replies  # imported when used (see above)

    if variant >= replies.REPLY_VARIANTS:
        this_reply.move(
            Reply.Status.POSTING, Reply.Status.FAILED, last_error=f"{refusal.message} (every wording already answered other posts)"
        )
        return False
    tweet = reply.tweet
    other_words = reply_text(tweet, list(tweet.photos.prefetch_related("labels")), variant=variant)
    return bool(this_reply.move(Reply.Status.POSTING, Reply.Status.PENDING, text=other_words, variant=variant, last_error=refusal.message))
