"""The reconcile: the bot's mentions read back from X, so that what the webhook missed is answered.

GET /2/users/{id}/mentions (newest first, `since_id`, paginated, media and authors
expanded) gives every post that mentions the bot. Each goes through the same recording
as a delivery's, so one the webhook brought already creates nothing, and a missed one is
recorded and answered exactly once. X bills each post read, so a run reads at most
IMAGEBOT_RECONCILE_MAX_POSTS and its log line says how many it read.

The cursor (ReconcileCursor) keeps how far the mentions have been read. A run cut short
by its bound keeps the oldest post it read as `until_x_id`, and the next run reads on
from there down to `since_x_id` before it looks at newer ones. The first run, with no
cursor yet, starts after the newest mention the bot has recorded, or, with none, reads
only to find where "now" is: a new bot does not answer mentions from before it ran.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models.functions import Length
from django.utils import timezone

from bot import conf
from bot.events.activity import post_event
from bot.events.types import TweetEvent
from bot.events.values import read_dict, read_id, read_list, x_id_order
from bot.models import ReconcileCursor, Tweet
from bot.services.errors import PermanentFailure, TemporaryFailure
from bot.services.recording import tweets_record_read

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileResult:
    posts_read: int  # each one billed by X
    recorded: int  # posts the webhook never brought
    pages: int
    complete: bool  # False: the bound stopped it; the next run reads on
    baseline: bool = False  # the first run: nothing recorded, the cursor set


def _newest(*x_ids: str) -> str:
    return max((x_id for x_id in x_ids if x_id), key=x_id_order, default="")


def _newest_recorded_mention(bot_user_id: str) -> str:
    tweet = (
        Tweet.objects.filter(for_user_x_id=bot_user_id, mentions_bot=True)
        .annotate(id_length=Length("x_id"))
        .order_by("-id_length", "-x_id")
        .values_list("x_id", flat=True)
        .first()
    )
    return tweet or ""


def mentions_reconcile(*, max_posts: int | None = None) -> ReconcileResult:
    """Read the bot's mentions since the last run and record what the webhook never brought."""
    from bot import x_api  # imported when used, as in bot.services.replying

    bot_user_id = conf.x_bot_user_id()
    if not bot_user_id:
        raise PermanentFailure("reconcile: the bot's user id is unknown (X_ACCESS_TOKEN starts with it)")
    bound = max_posts if max_posts is not None else conf.reconcile_max_posts()
    cursor, _ = ReconcileCursor.objects.get_or_create(account_x_id=bot_user_id)
    baseline = not cursor.since_x_id and not cursor.until_x_id and not cursor.newest_x_id
    since = cursor.since_x_id or (_newest_recorded_mention(bot_user_id) if baseline else "")
    if baseline and since:
        baseline = False  # the webhook recorded mentions before: read on from the newest
    until = cursor.until_x_id
    read = recorded = pages = 0
    newest, oldest = cursor.newest_x_id, ""
    token = ""
    complete = True
    while True:
        try:
            answer = x_api.mentions_read(
                bot_user_id, since_id=since, until_id=until, pagination_token=token, max_results=5 if baseline else min(100, bound - read)
            )
        except x_api.XApiError as exc:
            _cursor_note(cursor, f"failed after {read} posts read: {exc.message}", read)
            raise (PermanentFailure if exc.permanent else TemporaryFailure)(f"reconcile: {exc.message}") from exc
        pages += 1
        events = _mentions(answer, bot_user_id)
        read += len(read_list(answer.get("data")))
        ids = [event.x_id for event in events]
        newest = _newest(newest, *ids)
        oldest = min(ids, key=x_id_order, default=oldest) if ids else oldest
        if baseline:
            break
        recorded += tweets_record_read(events, for_user_x_id=bot_user_id)
        token = read_dict(answer.get("meta")).get("next_token") or ""
        if not isinstance(token, str) or not token:
            break
        if read >= bound:
            complete = False
            break
    if baseline or complete:
        cursor.since_x_id, cursor.until_x_id = _newest(since, newest), ""
    else:
        cursor.until_x_id = oldest  # read on from here next time
    cursor.newest_x_id = newest
    summary = (
        f"{read} posts read (X bills each post read), {recorded} recorded that the webhook never brought, "
        f"{pages} page{'s' if pages != 1 else ''}, "
        + ("cursor set" if baseline else "up to date" if complete else f"bound of {bound} reached; reads on next run")
    )
    _cursor_note(cursor, summary, read)
    logger.info("reconcile: %s", summary)
    return ReconcileResult(posts_read=read, recorded=recorded, pages=pages, complete=complete, baseline=baseline)


def _cursor_note(cursor: ReconcileCursor, summary: str, read: int) -> None:
    cursor.posts_read += read
    cursor.last_run_at = timezone.now()
    cursor.last_summary = summary[:1000]
    cursor.save()


def _mentions(answer: dict, bot_user_id: str) -> list[TweetEvent]:
    includes = read_dict(answer.get("includes"))
    events = []
    for post in read_list(answer.get("data")):
        event = post_event(post, includes, bot_id=bot_user_id)
        # The mentions timeline lists every post naming the bot; one that names it only in a
        # reply prefix is recorded as not addressed to it, as a delivery's would be.
        if event is not None and read_id(event.x_id):
            events.append(event)
    return events
