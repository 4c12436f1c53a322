"""Delivery bodies turned into plain events: one module per payload format, one set of events."""

from bot.events.delivery import PayloadError, parse_delivery, payload_load
from bot.events.types import Event, OtherEvent, ParsedDelivery, PhotoRef, ReplayDoneEvent, TweetDeleteEvent, TweetEvent

__all__ = [
    "Event",
    "OtherEvent",
    "ParsedDelivery",
    "PayloadError",
    "PhotoRef",
    "ReplayDoneEvent",
    "TweetDeleteEvent",
    "TweetEvent",
    "parse_delivery",
    "payload_load",
]
