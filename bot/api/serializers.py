"""What the API's records look like. Read-only: no serializer here validates input or saves.

X's ids (`x_id`, `*_x_id`) are strings: they exceed the 53 bits a JSON number keeps
exactly in JavaScript and in many JSON readers. An id X did not give is an empty string.
Everything a serializer shows comes from the selectors' prefetched rows: no field queries.
"""

from __future__ import annotations

import base64

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bot import replies
from bot.models import Delivery, Label, Photo, Reply, Tweet
from bot.recognition import DetectedLabel


def _recognised_labels(tweet: Tweet) -> list[DetectedLabel]:
    """The tweet's non-moderation labels on its recognised photos, as the reply reads them (from the prefetched rows)."""
    return [
        DetectedLabel(name=label.name, confidence=label.confidence, parents=tuple(label.parents), categories=tuple(label.categories))
        for photo in tweet.photos.all()
        if photo.status == Photo.Status.RECOGNISED
        for label in photo.labels.all()
        if not label.is_moderation
    ]


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["name", "confidence", "parents", "categories"]

    parents = serializers.ListField(child=serializers.CharField(), help_text="Broader labels this one implies (Dog: Animal, Pet, …).")
    categories = serializers.ListField(child=serializers.CharField(), help_text="Rekognition's categories for it.")


class MergedLabelSerializer(serializers.Serializer):
    """A label of the tweet as the reply lists it: each name once, at its highest confidence on any photo."""

    name = serializers.CharField()
    confidence = serializers.FloatField()


class ReplySerializer(serializers.ModelSerializer):
    class Meta:
        model = Reply
        fields = ["x_id", "status", "text", "posted_at", "created_at", "updated_at"]


class ReplyDetailSerializer(ReplySerializer):
    class Meta(ReplySerializer.Meta):
        fields = [*ReplySerializer.Meta.fields, "variant", "attempts", "last_error", "maybe_posted_at"]


class PhotoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Photo
        fields = [
            "position",
            "media_key",
            "media_type",
            "source_url",
            "is_thumbnail",
            "status",
            "content_type",
            "size",
            "width",
            "height",
            "flagged",
            "attempts",
            "last_error",
            "labels",
            "moderation_labels",
        ]

    labels = serializers.SerializerMethodField(help_text="What recognition found, most confident first.")
    moderation_labels = serializers.SerializerMethodField(help_text="What moderation found, most confident first.")

    @extend_schema_field(LabelSerializer(many=True))
    def get_labels(self, photo: Photo) -> list[dict]:
        return [LabelSerializer(label).data for label in photo.labels.all() if not label.is_moderation]

    @extend_schema_field(LabelSerializer(many=True))
    def get_moderation_labels(self, photo: Photo) -> list[dict]:
        return [LabelSerializer(label).data for label in photo.labels.all() if label.is_moderation]


class TweetSerializer(serializers.ModelSerializer):
    """A tweet in a list: who posted what, where it stands, what was found and how the bot answered."""

    class Meta:
        model = Tweet
        fields = [
            "x_id",
            "url",
            "author_x_id",
            "author_username",
            "text",
            "posted_at",
            "received_at",
            "updated_at",
            "status",
            "photo_count",
            "flagged",
            "shows_animal",
            "labels",
            "reply",
        ]

    url = serializers.CharField(help_text="The tweet on x.com.")
    photo_count = serializers.SerializerMethodField()
    flagged = serializers.SerializerMethodField(help_text="Whether one of its photos was flagged by moderation.")
    shows_animal = serializers.SerializerMethodField(help_text="Whether a recognised photo shows an animal, as the reply judges it.")
    labels = serializers.SerializerMethodField(help_text="Its photos' labels as the reply lists them: each once, most confident first.")
    reply = ReplySerializer(allow_null=True, help_text="The bot's reply; null until one is composed.")

    def get_photo_count(self, tweet: Tweet) -> int:
        return len(tweet.photos.all())

    def get_flagged(self, tweet: Tweet) -> bool:
        return any(photo.flagged for photo in tweet.photos.all())

    def get_shows_animal(self, tweet: Tweet) -> bool:
        return replies.shows_animal(_recognised_labels(tweet))

    @extend_schema_field(MergedLabelSerializer(many=True))
    def get_labels(self, tweet: Tweet) -> list[dict]:
        return [MergedLabelSerializer(label).data for label in replies.merge_labels(_recognised_labels(tweet))]


class TweetDetailSerializer(TweetSerializer):
    """One tweet with everything the bot knows of it."""

    class Meta(TweetSerializer.Meta):
        fields = [
            *TweetSerializer.Meta.fields,
            "for_user_x_id",
            "in_reply_to_x_id",
            "in_reply_to_user_x_id",
            "is_own",
            "is_repost",
            "is_quote",
            "mentions_bot",
            "replies_to_bot",
            "quotes_bot",
            "skip_reason",
            "attempts",
            "last_error",
            "deleted_at",
            "photos",
        ]

    photos = PhotoSerializer(many=True)
    reply = ReplyDetailSerializer(allow_null=True, help_text="The bot's reply; null until one is composed.")


class LabelStatsSerializer(serializers.Serializer):
    """How often one label was found over the chosen time, on recognised photos."""

    name = serializers.CharField()
    is_moderation = serializers.BooleanField(help_text="A moderation label (these flag a photo) rather than a recognition label.")
    photo_count = serializers.IntegerField(help_text="Photos it was found on.")
    tweet_count = serializers.IntegerField(help_text="Tweets it was found on.")
    mean_confidence = serializers.FloatField(help_text="Its mean confidence, 0 to 100.")
    max_confidence = serializers.FloatField(help_text="Its highest confidence, 0 to 100.")


class DeliverySerializer(serializers.ModelSerializer):
    """A POST from X as the webhook recorded it, without its body (see /api/deliveries/{id}/body/)."""

    class Meta:
        model = Delivery
        fields = ["id", "received_at", "size", "outcome", "detail", "for_user_x_id", "event_kinds", "tweet_x_ids"]

    event_kinds = serializers.ListField(child=serializers.CharField(), help_text="The kinds of event it carried.")
    tweet_x_ids = serializers.SerializerMethodField(help_text="X ids of the tweets it brought first (a redelivery brings none).")

    def get_tweet_x_ids(self, delivery: Delivery) -> list[str]:
        return [tweet.x_id for tweet in delivery.tweets.all()]


class DeliveryBodySerializer(serializers.ModelSerializer):
    """The raw body X sent, byte for byte: as base64, and as text where it is UTF-8."""

    class Meta:
        model = Delivery
        fields = ["id", "size", "utf8", "text", "base64"]

    utf8 = serializers.SerializerMethodField(help_text="Whether the body is valid UTF-8 (then `text` is exact).")
    text = serializers.SerializerMethodField(help_text="The body as text; bytes that are not UTF-8 become U+FFFD.")
    base64 = serializers.SerializerMethodField(help_text="The exact bytes, base64-encoded.")

    def get_utf8(self, delivery: Delivery) -> bool:
        try:
            bytes(delivery.body).decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def get_text(self, delivery: Delivery) -> str:
        return bytes(delivery.body).decode("utf-8", "replace")

    def get_base64(self, delivery: Delivery) -> str:
        return base64.b64encode(bytes(delivery.body)).decode("ascii")
