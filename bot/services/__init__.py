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
- errors: the exceptions a step raises.
"""

from bot.services.errors import PermanentFailure, RecordingFailed, TemporaryFailure
from bot.services.pacing import reply_rate_limit_record, reply_slot_take, reply_slots_open
from bot.services.photos import photo_fetch, photo_recognise
from bot.services.processing import photo_recognise_stored, tweet_process
from bot.services.recording import delivery_record, delivery_record_invalid, tweet_mark_deleted
from bot.services.replying import reply_post, reply_text, tweet_reply
from bot.services.settling import tweet_fail
from bot.services.storage import PHOTO_PREFIX, tweet_photos_delete
from bot.services.sweeping import SweepCounts, sweep

__all__ = [
    "PHOTO_PREFIX",
    "PermanentFailure",
    "RecordingFailed",
    "SweepCounts",
    "TemporaryFailure",
    "delivery_record",
    "delivery_record_invalid",
    "photo_fetch",
    "photo_recognise",
    "photo_recognise_stored",
    "reply_post",
    "reply_rate_limit_record",
    "reply_slot_take",
    "reply_slots_open",
    "reply_text",
    "sweep",
    "tweet_fail",
    "tweet_mark_deleted",
    "tweet_photos_delete",
    "tweet_process",
    "tweet_reply",
]
