"""Hydrating: the photos a post's delivery only names, looked up on X before they are fetched.

X Activity deliveries name a post's media by key without their URLs, and a post that
summons the bot without a photo of its own ("@bot what is this?" under someone's
picture) points at another post's. One GET /2/tweets (up to 100 posts a call, media
expanded) answers both: the photos recognised are the post's own, else the quoted
post's, else the replied-to post's, never one by a person who opted out. The reply still
answers the summoning post only.

A step of tweet processing (never in the webhook's request): it runs once per tweet,
cleared by `media_lookup`, and a failed lookup is a TemporaryFailure for the sweeper.
X's rate limits: the X client waits for a reset up to IMAGEBOT_X_MAX_RATE_LIMIT_WAIT; a
later one holds the tweets back (`not_before`) until then, as a rate-limited reply does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

from bot import conf
from bot.events.activity import PostPhotos, posts_photos
from bot.models import Photo, Tweet
from bot.services.errors import PermanentFailure, TemporaryFailure
from bot.services.opting import authors_opted_out
from bot.services.photos import photos_record
from bot.services.settling import tweet_wait_for_rate_limit

logger = logging.getLogger(__name__)


def tweet_hydrate(tweet_pk: int) -> None:
    tweets_hydrate([tweet_pk])


def _candidates(tweet: Tweet) -> list[str]:
    """The posts whose photos may be the ones meant, in order: its own, the quoted, the replied-to."""
    bot_user_id = tweet.for_user_x_id or conf.x_bot_user_id()
    found = [tweet.x_id]
    if tweet.quoted_x_id:
        found.append(tweet.quoted_x_id)
    if tweet.in_reply_to_x_id and tweet.in_reply_to_user_x_id != bot_user_id:
        found.append(tweet.in_reply_to_x_id)
    return list(dict.fromkeys(found))


def tweets_hydrate(tweet_pks: Iterable[int]) -> int:
    """Look up the photos of every tweet still waiting for them, 100 posts per call. Returns how many tweets got photos."""
    from bot import x_api  # imported when used, as in bot.services.replying

    tweets = list(Tweet.objects.filter(pk__in=list(tweet_pks), media_lookup=True))
    if not tweets:
        return 0
    wanted = list(dict.fromkeys(x_id for tweet in tweets for x_id in _candidates(tweet)))
    found: dict[str, PostPhotos] = {}
    for start in range(0, len(wanted), x_api.POST_LOOKUP_MAX_IDS):
        try:
            answer = x_api.posts_lookup(wanted[start : start + x_api.POST_LOOKUP_MAX_IDS])
        except x_api.XApiError as exc:
            if exc.status == 429 and exc.retry_after and exc.retry_after > conf.x_max_rate_limit_wait():
                # X's limit spent for longer than a step may wait: the sweeper comes back after the reset, as for replies.
                for tweet in tweets:
                    tweet_wait_for_rate_limit(tweet.pk, exc.retry_after)
            raise (PermanentFailure if exc.permanent else TemporaryFailure)(f"looking up photos: {exc.message}") from exc
        found.update(posts_photos(answer))
    # Nothing of a person who opted out is downloaded, even under a post that asks about it.
    opted_out = authors_opted_out(post.author_x_id for post in found.values())
    found = {x_id: post for x_id, post in found.items() if post.author_x_id not in opted_out}
    with_photos = 0
    for tweet in tweets:
        with_photos += _tweet_photos_keep(tweet, found)
    return with_photos


def _tweet_photos_keep(tweet: Tweet, found: dict[str, PostPhotos]) -> bool:
    # A post whose delivery carried some of its photos is asked about those: the rest of its own, never another post's.
    candidates = [tweet.x_id] if Photo.objects.filter(tweet=tweet).exists() else _candidates(tweet)
    source = next((found[x_id] for x_id in candidates if x_id in found and found[x_id].photos), None)
    with transaction.atomic():
        if not Tweet.objects.filter(pk=tweet.pk, media_lookup=True).update(
            media_lookup=False,
            photos_from_x_id="" if source is None or source.x_id == tweet.x_id else source.x_id,
            photos_from_username="" if source is None or source.x_id == tweet.x_id else source.author_username,
        ):
            return False  # another worker did it
        if source is None:
            logger.info("tweet %s: no photos on it or on the posts it points at", tweet.x_id)
            return False
        photos_record(tweet, source.photos)
    return True
