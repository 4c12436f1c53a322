"""The bot's X Activity API subscriptions: which post events X delivers to the webhook.

post.mention.create (explicit @mentions of the bot), post.reply.create (replies to its
posts: how "stop" reaches it) and post.quote.create (quotes of its posts), each filtered
on the bot's user id. Creating is idempotent: a subscription X already has is not asked
for twice. List, create and delete are what the command and the admin call.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot import conf
from bot.services.errors import PermanentFailure

if TYPE_CHECKING:
    from bot.x_api import ActivitySubscription

logger = logging.getLogger(__name__)

ACTIVITY_EVENT_TYPES = ("post.mention.create", "post.reply.create", "post.quote.create")
SUBSCRIPTION_TAG = "imagebot"


def _bot_user_id() -> str:
    bot_user_id = conf.x_bot_user_id()
    if not bot_user_id:
        raise PermanentFailure("the bot's user id is unknown (X_ACCESS_TOKEN starts with it)")
    return bot_user_id


def activity_subscriptions_list(*, bot_only: bool = True) -> list[ActivitySubscription]:
    """The app's X Activity subscriptions (by default, those filtered on the bot account)."""
    from bot import x_api  # imported when used, as in bot.services.replying

    found = x_api.activity_subscription_list()
    if not bot_only:
        return found
    bot_user_id = _bot_user_id()
    return [subscription for subscription in found if subscription.user_id == bot_user_id]


def activity_subscriptions_create(*, webhook_x_id: str, event_types: tuple[str, ...] = ACTIVITY_EVENT_TYPES) -> list[ActivitySubscription]:
    """Subscribe the webhook to the bot's post events; those already there are kept as they are.
    Returns the bot's subscriptions to the webhook for those event types, new and old."""
    from bot import x_api  # imported when used, as in bot.services.replying

    bot_user_id = _bot_user_id()
    existing = {
        subscription.event_type: subscription
        for subscription in activity_subscriptions_list()
        if subscription.webhook_id == webhook_x_id and subscription.event_type in event_types
    }
    result = []
    for event_type in event_types:
        if event_type in existing:
            result.append(existing[event_type])
            continue
        created = x_api.activity_subscription_create(event_type, user_id=bot_user_id, webhook_id=webhook_x_id, tag=SUBSCRIPTION_TAG)
        logger.info("X Activity subscription %s: %s for %s to webhook %s", created.subscription_id, event_type, bot_user_id, webhook_x_id)
        result.append(created)
    return result


def activity_subscription_delete(subscription_id: str) -> None:
    from bot import x_api  # imported when used, as in bot.services.replying

    x_api.activity_subscription_delete(subscription_id)
    logger.info("X Activity subscription %s deleted", subscription_id)


def activity_subscriptions_delete(*, webhook_x_id: str = "") -> list[str]:
    """Delete the bot's subscriptions (to one webhook, or all of them); returns their ids."""
    deleted = []
    for subscription in activity_subscriptions_list():
        if not webhook_x_id or subscription.webhook_id == webhook_x_id:
            activity_subscription_delete(subscription.subscription_id)
            deleted.append(subscription.subscription_id)
    return deleted
