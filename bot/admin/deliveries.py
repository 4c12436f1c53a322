"""Deliveries: every validly signed POST from X, byte for byte, and what became of it.

A delivery may be deleted (superusers, and staff with the delete permission): its tweets stay.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from bot import services
from bot.admin.base import ReadOnlyAdmin, badge
from bot.events import PayloadError
from bot.models import Delivery, Tweet

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _DeliveryCounts(TypedDict):
    new_tweet_count: int


BODY_SHOWN_MAX = 200_000  # characters of a body shown on its page


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "received_at", "outcome_badge", "kinds", "new_tweets", "size", "detail"]
    list_filter = ["outcome", "received_at"]
    search_fields = ["detail", "for_user_x_id"]
    date_hierarchy = "received_at"
    list_per_page = 50
    actions = ["replay"]
    fields = ["received_at", "outcome_badge", "detail", "for_user_x_id", "kinds", "size", "tweet_links", "body_text"]
    readonly_fields = ["received_at", "outcome_badge", "kinds", "tweet_links", "body_text"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        # A subquery, not a join with GROUP BY: the page's count of all rows then leaves it out.
        tweets = Tweet.objects.filter(delivery_id=OuterRef("pk")).order_by().values("delivery_id").annotate(n=Count("pk")).values("n")
        return super().get_queryset(request).annotate(new_tweet_count=Coalesce(Subquery(tweets), 0))

    @admin.display(description="new tweets", ordering="new_tweet_count")
    def new_tweets(self, obj: WithAnnotations[Delivery, _DeliveryCounts]) -> int:
        return obj.new_tweet_count

    @admin.display(description="outcome", ordering="outcome")
    def outcome_badge(self, obj: Delivery) -> SafeString:
        return badge(obj.outcome, obj.get_outcome_display())

    @admin.display(description="event kinds")
    def kinds(self, obj: Delivery) -> str:
        return ", ".join(obj.event_kinds)

    @admin.display(description="posts it recorded")
    def tweet_links(self, obj: Delivery) -> SafeString:
        tweets = list(obj.tweets.only("pk", "x_id", "status"))
        if not tweets:
            return format_html("{}", "none (known already, or no post in it)")
        return format_html_join(
            ", ",
            '<a href="{}">{}</a> {}',
            ((reverse("admin:bot_tweet_change", args=[tweet.pk]), tweet.x_id, badge(tweet.status)) for tweet in tweets),
        )

    @admin.display(description="body")
    def body_text(self, obj: Delivery) -> SafeString:
        raw = bytes(obj.body).decode("utf-8", "replace")
        try:
            shown = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
        except ValueError:
            shown = raw  # an invalid delivery is shown as it came
        if len(shown) > BODY_SHOWN_MAX:
            shown = shown[:BODY_SHOWN_MAX] + f"\n… ({len(shown) - BODY_SHOWN_MAX:,} more characters)"
        return format_html('<pre class="console-body">{}</pre>', shown)

    @admin.action(description="Replay: record the delivery again (known posts change nothing)", permissions=["operate"])
    def replay(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset.only("pk", "body"):
            try:
                replayed = services.delivery_replay(bytes(delivery.body))
            except PayloadError as exc:
                self.message_user(request, f"delivery {delivery.pk}: not replayed, the body is {exc}", messages.WARNING)
            except services.RecordingFailed as exc:
                self.message_user(
                    request,
                    f"delivery {delivery.pk}: recording did not finish (kept as delivery {exc.args[0]}; replaying it again is safe)",
                    messages.ERROR,
                )
            else:
                count = replayed.tweets.count()
                self.message_user(
                    request, f"delivery {delivery.pk} replayed as delivery {replayed.pk}: {count} new post{'s' if count != 1 else ''}"
                )

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff and self.has_view_permission(request)
