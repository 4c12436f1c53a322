"""The bot's steps. Views, admin actions, commands, Lambda handlers and tests call these.

Every step can be called again safely: work is claimed with status moves (conditional
updates, see bot.models) and unique keys, so a redelivered tweet, a repeated S3 event or
a second worker changes nothing that is already done. One module per responsibility:

- recording: deliveries and the tweets in them, deletions;
- processing: a tweet through the pipeline, and the S3 event's way in;
- photos: download and store one photo, recognise one;
- replying: compose, post once, reword on duplicates, rate limits;
- pacing: X's rate-limit window on replies, shared in the database, oldest first;
- settling: how a tweet ends, and the failures kept on its row;
- sweeping: the sweeper;
- storage: where photos are stored, and their removal;
- hydrating: a post's photos (or the quoted / replied-to post's) looked up on X before fetching;
- opting: "stop" and "start": who is never answered;
- activity: the bot's X Activity API subscriptions;
- replaying: X's replay of the webhook's last 24 hours, one job at a time;
- reconciling: the bot's mentions read back from X, recording what the webhook missed;
- console: what an operator does from the admin (re-run, retry, post for real, try a photo);
- webhooks: the X webhook and the bot's Account Activity subscription, synced from X;
- errors: the exceptions a step raises.
"""

from bot.services.activity import (
    activity_subscription_delete,
    activity_subscriptions_create,
    activity_subscriptions_delete,
    activity_subscriptions_list,
)
from bot.services.errors import PermanentFailure, RecordingFailed, TemporaryFailure
from bot.services.hydrating import tweet_hydrate, tweets_hydrate
from bot.services.opting import author_opted_out, optout_create, optout_delete, optout_list
from bot.services.pacing import reply_rate_limit_record, reply_slot_take, reply_slots_open
from bot.services.photos import photo_fetch, photo_recognise
from bot.services.processing import photo_recognise_stored, tweet_process
from bot.services.reconciling import ReconcileResult, mentions_reconcile
from bot.services.recording import delivery_record, delivery_record_invalid, delivery_replay, tweet_mark_deleted, tweets_record_read
from bot.services.replaying import ReplayRefused, replay_job_finished, replay_start, replay_webhook_x_id
from bot.services.replying import reply_post, reply_text, tweet_reply
from bot.services.settling import tweet_fail
from bot.services.storage import PHOTO_PREFIX, tweet_photos_delete
from bot.services.sweeping import SweepCounts, sweep

__all__ = [
    "PHOTO_PREFIX",
    "PermanentFailure",
    "ReconcileResult",
    "RecordingFailed",
    "ReplayRefused",
    "SweepCounts",
    "TemporaryFailure",
    "activity_subscription_delete",
    "activity_subscriptions_create",
    "activity_subscriptions_delete",
    "activity_subscriptions_list",
    "author_opted_out",
    "delivery_record",
    "delivery_record_invalid",
    "delivery_replay",
    "mentions_reconcile",
    "optout_create",
    "optout_delete",
    "optout_list",
    "photo_fetch",
    "photo_recognise",
    "photo_recognise_stored",
    "replay_job_finished",
    "replay_start",
    "replay_webhook_x_id",
    "reply_post",
    "reply_rate_limit_record",
    "reply_slot_take",
    "reply_slots_open",
    "reply_text",
    "sweep",
    "tweet_fail",
    "tweet_hydrate",
    "tweet_mark_deleted",
    "tweet_photos_delete",
    "tweet_process",
    "tweet_reply",
    "tweets_hydrate",
    "tweets_record_read",
]
