"""Photos, labels and replies: browsed on their own, deleted only with their tweet.

Stored photos stay private: their files are never under a public URL. The image view here
streams one from storage to staff who may view photos, and to nobody else.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from bot.admin.base import TweetPartAdmin, badge, report
from bot.admin.tweets import labels_shown, photo_thumbnail, reply_shown
from bot.models import Label, Photo, Reply
from bot.services import console


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    fields = readonly_fields = ("name", "confidence", "parents", "categories", "is_moderation")
    can_delete = False


@admin.register(Photo)
class PhotoAdmin(TweetPartAdmin):
    list_display = ["__str__", "thumbnail", "media_type", "status_badge", "flagged", "label_list", "size", "last_error"]
    list_filter = ["status", "media_type", "flagged", "tweet__received_at"]
    search_fields = ["tweet__x_id", "source_url", "labels__name"]
    list_select_related = ["tweet"]
    list_per_page = 50
    inlines = [LabelInline]
    fields = [
        "tweet_link",
        "number",
        "image",
        "media_type",
        "is_thumbnail",
        "status_badge",
        "flagged",
        "source_url",
        "file",
        "content_type",
        "size",
        "width",
        "height",
        "label_list",
        "moderation",
        "attempts",
        "last_error",
        "updated_at",
    ]
    readonly_fields = ["tweet_link", "number", "image", "status_badge", "label_list", "moderation"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Photo]:
        return super().get_queryset(request).prefetch_related("labels")

    def get_urls(self) -> list[URLPattern]:
        image = path("<int:pk>/image/", self.admin_site.admin_view(self.image_view), name="bot_photo_image")
        return [image, *super().get_urls()]

    def image_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        """The stored file, streamed from storage (local folder or S3) to staff who may view photos."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        photo = Photo.objects.filter(pk=pk).exclude(file="").first()
        if photo is None:
            raise Http404("no stored file")
        try:
            handle = photo.file.storage.open(photo.file.name, "rb")
        except (FileNotFoundError, OSError):
            raise Http404("the stored file is gone") from None
        response = FileResponse(handle, content_type=photo.content_type or "application/octet-stream")
        response["Cache-Control"] = "private, max-age=300"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    @admin.display(description="image")
    def thumbnail(self, obj: Photo) -> SafeString:
        return photo_thumbnail(obj, height=48)

    @admin.display(description="image")
    def image(self, obj: Photo) -> SafeString:
        return photo_thumbnail(obj, height=320)

    @admin.display(description="photo", ordering="position")
    def number(self, obj: Photo) -> str:
        return f"{obj.number} of the post's photos"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Photo) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="labels")
    def label_list(self, obj: Photo) -> SafeString:
        return labels_shown(obj, moderation=False)

    @admin.display(description="moderation labels")
    def moderation(self, obj: Photo) -> SafeString:
        return labels_shown(obj, moderation=True)

    @admin.display(description="tweet")
    def tweet_link(self, obj: Photo) -> SafeString:
        return format_html('<a href="{}">{}</a>', reverse("admin:bot_tweet_change", args=[obj.tweet_id]), obj.tweet)


@admin.register(Label)
class LabelAdmin(TweetPartAdmin):
    list_display = ["name", "confidence", "is_moderation", "photo"]
    list_filter = ["is_moderation"]
    search_fields = ["name"]
    list_select_related = ["photo__tweet"]


@admin.register(Reply)
class ReplyAdmin(TweetPartAdmin):
    list_display = ["tweet", "reply", "attempts", "error", "posted_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["tweet__x_id", "text", "x_id"]
    list_select_related = ["tweet"]
    list_per_page = 50
    actions = ["retry", "post_for_real"]

    @admin.display(description="reply", ordering="status")
    def reply(self, obj: Reply) -> SafeString:
        return reply_shown(obj)

    @admin.display(description="last error", ordering="last_error")
    def error(self, obj: Reply) -> str:
        return obj.last_error if len(obj.last_error) <= 60 else obj.last_error[:59] + "…"

    @admin.action(description="Retry the failed reply", permissions=["operate"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Reply]) -> None:
        report(self, request, "Retry reply", console.replies_retry(queryset.values_list("pk", flat=True)))

    @admin.action(description="Post the dry-run reply for real", permissions=["operate"])
    def post_for_real(self, request: HttpRequest, queryset: QuerySet[Reply]) -> None:
        report(self, request, "Post for real", console.replies_post_for_real(queryset.values_list("pk", flat=True)))

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff and self.has_view_permission(request)
