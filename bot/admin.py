"""The operator's dashboard: deliveries, tweets, photos, labels and replies.

Records come from X and the pipeline: nobody types them in or edits them. What an operator
may delete (superusers, and staff with the delete permission): a delivery (its tweets
stay), and a tweet, whose photos, labels and reply go with it, and whose stored photo
files go from storage (bot.services.storage.tweets_delete), one at a time or with
"delete selected". A photo, a label or a reply alone is never deleted: the record of
what the bot saw and said would stop telling the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from bot.models import Delivery, Label, Photo, Reply, Tweet
from bot.services.storage import tweets_delete

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _DeliveryCounts(TypedDict):
    new_tweet_count: int


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records come from X and the pipeline; operators browse them, they don't type them in."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class TweetPartAdmin(ReadOnlyAdmin):
    """A photo, a label or a reply: deleted with its tweet only."""

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# What deleting a tweet takes with it, though their own pages never delete them.
_TWEET_PARTS = (Photo, Label, Reply)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "received_at", "outcome", "kinds", "new_tweets", "size", "detail"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).annotate(new_tweet_count=Count("tweets"))

    @admin.display(description="new tweets", ordering="new_tweet_count")
    def new_tweets(self, obj: WithAnnotations[Delivery, _DeliveryCounts]) -> int:
        return obj.new_tweet_count

    list_filter = ["outcome", "received_at"]
    search_fields = ["detail", "for_user_x_id"]
    date_hierarchy = "received_at"
    exclude = ["body"]
    readonly_fields = ["body_text"]

    @admin.display(description="event kinds")
    def kinds(self, obj: Delivery) -> str:
        return ", ".join(obj.event_kinds)

    @admin.display(description="body")
    def body_text(self, obj: Delivery) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", bytes(obj.body).decode("utf-8", "replace"))


class PhotoInline(admin.TabularInline):
    model = Photo
    extra = 0
    # A tuple, so one value types as both (django-stubs types fields and readonly_fields differently).
    fields = readonly_fields = ("position", "media_type", "is_thumbnail", "status", "file", "size", "label_list", "last_error")
    can_delete = False
    show_change_link = True

    @admin.display(description="labels")
    def label_list(self, obj: Photo) -> str:
        return ", ".join(str(label) for label in obj.labels.all())


@admin.register(Tweet)
class TweetAdmin(ReadOnlyAdmin):
    list_display = ["x_id", "received_at", "author", "status", "summoned_by", "photo_count", "attempts", "last_error"]
    list_filter = ["status", "is_own", "is_repost", "is_quote", "mentions_bot", "replies_to_bot", "received_at"]
    search_fields = ["x_id", "author_username", "author_x_id", "text"]
    date_hierarchy = "received_at"
    list_select_related = ["delivery"]
    inlines = [PhotoInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tweet]:
        return super().get_queryset(request).prefetch_related("photos")

    @admin.display(description="author", ordering="author_username")
    def author(self, obj: Tweet) -> SafeString:
        return format_html('<a href="{}" rel="noopener" target="_blank">@{}</a>', obj.url, obj.author_username or obj.author_x_id)

    @admin.display(description="why")
    def summoned_by(self, obj: Tweet) -> str:
        if obj.skip_reason:
            return f"skipped: {obj.skip_reason}"
        reasons = [name for flag, name in ((obj.mentions_bot, "mention"), (obj.replies_to_bot, "reply"), (obj.quotes_bot, "quote")) if flag]
        return ", ".join(reasons)

    @admin.display(description="photos")
    def photo_count(self, obj: Tweet) -> int:
        return len(obj.photos.all())

    def get_deleted_objects(
        self, objs: Sequence[Tweet] | QuerySet[Tweet], request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The delete permission on the tweet is enough: its parts cannot be deleted alone, but go with it.
        parts = {str(model._meta.verbose_name) for model in _TWEET_PARTS}
        return deleted, counts, perms_needed - parts, protected

    def delete_model(self, request: HttpRequest, obj: Tweet) -> None:
        tweets_delete([obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tweet]) -> None:
        tweets_delete(queryset.values_list("pk", flat=True))


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    fields = readonly_fields = ("name", "confidence", "parents", "categories", "is_moderation")
    can_delete = False


@admin.register(Photo)
class PhotoAdmin(TweetPartAdmin):
    list_display = ["__str__", "media_type", "is_thumbnail", "status", "flagged", "size", "last_error"]
    list_filter = ["status", "media_type", "flagged"]
    search_fields = ["tweet__x_id", "source_url"]
    list_select_related = ["tweet"]
    inlines = [LabelInline]


@admin.register(Label)
class LabelAdmin(TweetPartAdmin):
    list_display = ["name", "confidence", "is_moderation", "photo"]
    list_filter = ["is_moderation"]
    search_fields = ["name"]
    list_select_related = ["photo__tweet"]


@admin.register(Reply)
class ReplyAdmin(TweetPartAdmin):
    list_display = ["tweet", "status", "text", "x_id", "attempts", "last_error", "posted_at"]
    list_filter = ["status"]
    search_fields = ["tweet__x_id", "text", "x_id"]
    list_select_related = ["tweet"]
