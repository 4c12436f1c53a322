"""The dashboard: the bot's health, its work and its cost on one page (staff only)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from bot import conf, services
from bot.admin.charts import bar_chart
from bot.selectors import dashboard as reads


def dashboard_view(request: HttpRequest) -> HttpResponse:
    days = reads.days()
    health = reads.health()
    stuck_count, stuck = reads.stuck()
    limited_count, limited = reads.rate_limited()
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "health": health,
        "invalid_webhooks": [webhook for webhook in health["webhooks"] if not webhook.valid],
        "status_counts": reads.status_counts(),
        "charts": [
            bar_chart("Posts received per day", [(day["day"], day["posts"]) for day in days]),
            bar_chart("Replies posted per day", [(day["day"], day["replies_posted"]) for day in days], colour="#2e7d32"),
            bar_chart("Replies composed in dry run per day", [(day["day"], day["replies_dry_run"]) for day in days], colour="#6a4c93"),
            bar_chart("Cost per day (US$)", [(day["day"], day["cost"]) for day in days], colour="#c62828", unit=" $"),
        ],
        "days": days,
        "cost_total": sum(day["cost"] for day in days),
        "replies_total": sum(day["replies_posted"] for day in days),
        "photos_total": sum(day["photos_recognised"] for day in days),
        "price_per_photo": conf.price_per_photo(),
        "price_per_reply": conf.price_per_reply(),
        "top_labels": reads.top_labels(),
        "failures": reads.failure_reasons(),
        "stuck_count": stuck_count,
        "stuck": stuck,
        "limited_count": limited_count,
        "limited": limited,
        "sweep_after": conf.sweep_after_seconds(),
        "can_sweep": request.user.has_perm("bot.view_tweet"),
        "recovery": reads.recovery(),
        "now": timezone.now(),
    }
    return TemplateResponse(request, "admin/bot/dashboard.html", context)


@require_POST
def sweep_view(request: HttpRequest) -> HttpResponse:
    """Run the sweeper now, as the schedule does."""
    if not request.user.has_perm("bot.view_tweet"):
        raise PermissionDenied
    counts = services.sweep()
    messages.success(
        request,
        f"Sweeper: {counts['redispatched']} dispatched again, {counts['failed']} failed for good, "
        f"{counts['photos_deleted']} leftover photo files deleted.",
    )
    return HttpResponseRedirect(reverse("console-dashboard"))
