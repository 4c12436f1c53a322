"""Tweets, with their photos and reply: the list an operator watches, and what can be done to them.

Deleting a tweet (superusers, and staff with the delete permission) takes its photos, labels
and reply with it, and its stored photo files go from storage (bot.services.storage.tweets_delete).
A photo, a label or a reply alone is never deleted: the record of what the bot saw and said
would stop telling the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from bot.admin.base import ReadOnlyAdmin, badge, report
from bot.api.selectors import tweet_shows_animal
from bot.models import Label, Photo, Reply, Tweet
from bot.services import console
from bot.services.storage import tweets_delete

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _TweetCounts(TypedDict):
    photo_count: int


# What deleting a tweet takes with it, though their own pages never delete them.
_TWEET_PARTS = (Photo, Label, Reply)


class _YesNoFilter(admin.SimpleListFilter):
    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "yes"), ("no", "no")]


class HasPhotosFilter(_YesNoFilter):
    title = "has photos"
    parameter_name = "has_photos"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tweet]) -> QuerySet[Tweet]:
        has = Exists(Photo.objects.filter(tweet_id=OuterRef("pk")))
        return queryset.filter(has) if self.value() == "yes" else queryset.filter(~has) if self.value() == "no" else queryset


class AnimalFilter(_YesNoFilter):
    title = "shows an animal"
    parameter_name = "animal"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tweet]) -> QuerySet[Tweet]:
        if self.value() == "yes":
            return queryset.filter(tweet_shows_animal())
        if self.value() == "no":
            return queryset.filter(~tweet_shows_animal())
        return queryset


class FlaggedFilter(_YesNoFilter):
    title = "flagged (moderation)"
    parameter_name = "flagged"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Tweet]) -> QuerySet[Tweet]:
        flagged = Exists(Photo.objects.filter(tweet_id=OuterRef("pk"), flagged=True))
        return queryset.filter(flagged) if self.value() == "yes" else queryset.filter(~flagged) if self.value() == "no" else queryset


def photo_thumbnail(photo: Photo, *, height: int = 96) -> SafeString:
    """The stored photo through the staff-only image view, while it is retained."""
    if not photo.file:
        return format_html('<span class="console-muted">{}</span>', "not stored" if photo.status != "stored" else "")
    url = reverse("admin:bot_photo_image", args=[photo.pk])
    return format_html(
        '<a href="{}"><img src="{}" alt="photo {}" style="max-height:{}px;max-width:160px"></a>', url, url, photo.number, height
    )


def labels_shown(photo: Photo, *, moderation: bool) -> SafeString:
    labels = [label for label in photo.labels.all() if label.is_moderation == moderation]
    if not labels:
        return format_html('<span class="console-muted">{}</span>', "none")
    return format_html_join(", ", "{} ({}%)", ((label.name, f"{label.confidence:.1f}") for label in labels))


class PhotoInline(admin.TabularInline):
    model = Photo
    extra = 0
    # A tuple, so one value types as both (django-stubs types fields and readonly_fields differently).
    fields = readonly_fields = ("number", "thumbnail", "media_type", "status_badge", "size", "label_list", "moderation", "last_error")
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Photo]:
        return super().get_queryset(request).select_related("tweet").prefetch_related("labels")

    @admin.display(description="photo")
    def number(self, obj: Photo) -> str:
        return f"{obj.number}{' (still of a GIF/video)' if obj.is_thumbnail else ''}"

    @admin.display(description="image")
    def thumbnail(self, obj: Photo) -> SafeString:
        return photo_thumbnail(obj)

    @admin.display(description="status")
    def status_badge(self, obj: Photo) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="labels")
    def label_list(self, obj: Photo) -> SafeString:
        return labels_shown(obj, moderation=False)

    @admin.display(description="moderation labels")
    def moderation(self, obj: Photo) -> SafeString:
        return labels_shown(obj, moderation=True)


def reply_shown(reply: Reply | None, *, full: bool = False) -> SafeString:
    if reply is None:
        return format_html('<span class="console-muted">{}</span>', "no reply")
    text = reply.text if full or len(reply.text) <= 70 else reply.text[:69] + "…"
    link = format_html(' <a href="https://x.com/i/status/{}" rel="noopener" target="_blank">on X ↗</a>', reply.x_id) if reply.x_id else ""
    return format_html('{} <span class="console-reply">{}</span>{}', badge(reply.status, reply.get_status_display()), text, link)


@admin.register(Tweet)
class TweetAdmin(ReadOnlyAdmin):
    list_display = ["x_id", "received", "author", "status_badge", "summoned_by", "photo_count", "reply_column", "tries", "error"]
    list_filter = ["status", HasPhotosFilter, AnimalFilter, FlaggedFilter, "is_trial", "mentions_bot", "is_repost", "received_at"]
    search_fields = ["x_id", "author_username", "author_x_id", "text", "last_error", "photos__labels__name"]
    date_hierarchy = "received_at"
    list_select_related = ["reply"]
    list_per_page = 50
    inlines = [PhotoInline]
    actions = ["reprocess", "retry_reply", "post_for_real", "delete_photos", "delete_selected"]
    fieldsets = [
        (None, {"fields": ["x_id", "link", "author", "text", "status_badge", "summoned_by", "is_trial", "received_at", "posted_at"]}),
        ("Reply", {"fields": ["reply_detail"]}),
        ("Processing", {"fields": ["attempts", "last_error", "not_before", "updated_at", "delivery_link", "for_user_x_id"]}),
        (
            "What X said about it",
            {"classes": ["collapse"], "fields": ["in_reply_to_x_id", "is_own", "is_repost", "is_quote", "mentions_bot", "replies_to_bot"]},
        ),
    ]
    readonly_fields = ["link", "author", "status_badge", "summoned_by", "reply_detail", "delivery_link"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tweet]:
        # A subquery, not a join with GROUP BY: the page's count of all rows then leaves it out.
        photos = Photo.objects.filter(tweet_id=OuterRef("pk")).order_by().values("tweet_id").annotate(n=Count("pk")).values("n")
        return super().get_queryset(request).annotate(photo_count=Coalesce(Subquery(photos), 0))

    @admin.display(description="received", ordering="received_at")
    def received(self, obj: Tweet) -> SafeString:
        """Short, so the list fits 1366 px; the full time is in the tooltip."""
        local = timezone.localtime(obj.received_at)
        return format_html('<span title="{}">{}</span>', local.isoformat(timespec="seconds"), date_format(local, "j M H:i"))

    @admin.display(description="author", ordering="author_username")
    def author(self, obj: Tweet) -> SafeString:
        if obj.is_trial:
            return format_html("{} (trial)", obj.author_username)
        return format_html('<a href="{}" rel="noopener" target="_blank">@{}</a>', obj.url, obj.author_username or obj.author_x_id)

    @admin.display(description="on X")
    def link(self, obj: Tweet) -> SafeString:
        if obj.is_trial:
            return format_html("{}", "a trial from the console: not on X")
        return format_html('<a href="{}" rel="noopener" target="_blank">{}</a>', obj.url, obj.url)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Tweet) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="why")
    def summoned_by(self, obj: Tweet) -> str:
        if obj.skip_reason:
            # A reason says why the bot did not answer; the badge beside it says how the tweet ended.
            return obj.skip_reason
        reasons = [name for flag, name in ((obj.mentions_bot, "mention"), (obj.replies_to_bot, "reply"), (obj.quotes_bot, "quote")) if flag]
        return ", ".join(reasons)

    @admin.display(description="photos", ordering="photo_count")
    def photo_count(self, obj: WithAnnotations[Tweet, _TweetCounts]) -> int:
        return obj.photo_count

    @admin.display(description="reply")
    def reply_column(self, obj: Tweet) -> SafeString:
        return reply_shown(getattr(obj, "reply", None))

    @admin.display(description="reply")
    def reply_detail(self, obj: Tweet) -> SafeString:
        reply = getattr(obj, "reply", None)
        shown = reply_shown(reply, full=True)
        if reply is None:
            return shown
        details = f"attempts {reply.attempts}" + (f"; last error: {reply.last_error}" if reply.last_error else "")
        return format_html('{}<br><span class="console-muted">{}</span>', shown, details)

    @admin.display(description="tries", ordering="attempts")
    def tries(self, obj: Tweet) -> int:
        return obj.attempts

    @admin.display(description="last error", ordering="last_error")
    def error(self, obj: Tweet) -> SafeString:
        if not obj.last_error:
            return format_html("{}", "")
        short = obj.last_error if len(obj.last_error) <= 60 else obj.last_error[:59] + "…"
        return format_html('<span title="{}">{}</span>', obj.last_error, short)

    @admin.display(description="delivery")
    def delivery_link(self, obj: Tweet) -> SafeString:
        if obj.delivery_id is None:
            return format_html("{}", "—")
        return format_html('<a href="{}">delivery {}</a>', reverse("admin:bot_delivery_change", args=[obj.delivery_id]), obj.delivery_id)

    # --- Actions ---

    @admin.action(description="Re-run processing of failed or stuck posts", permissions=["operate"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Tweet]) -> None:
        report(self, request, "Re-run", console.tweets_reprocess(queryset.values_list("pk", flat=True)))

    @admin.action(description="Retry the failed reply", permissions=["operate"])
    def retry_reply(self, request: HttpRequest, queryset: QuerySet[Tweet]) -> None:
        report(self, request, "Retry reply", console.replies_retry(Reply.objects.filter(tweet__in=queryset).values_list("pk", flat=True)))

    @admin.action(description="Post the dry-run reply for real", permissions=["operate"])
    def post_for_real(self, request: HttpRequest, queryset: QuerySet[Tweet]) -> None:
        pks = list(Reply.objects.filter(tweet__in=queryset).values_list("pk", flat=True))
        outcome = console.replies_post_for_real(pks)
        missing = queryset.exclude(reply__isnull=False).count()
        if missing:
            outcome.refused.append(f"{missing} without a reply")
        report(self, request, "Post for real", outcome)

    @admin.action(description="Delete the stored photos (rows and labels stay)", permissions=["operate"])
    def delete_photos(self, request: HttpRequest, queryset: QuerySet[Tweet]) -> None:
        report(self, request, "Delete stored photos", console.tweets_photos_delete(queryset.values_list("pk", flat=True)))

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Operating the bot: staff who may view tweets (the actions change only statuses, never records)."""
        return request.user.is_active and request.user.is_staff and self.has_view_permission(request)

    # --- Deleting ---

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
