"""Recovery records, read only: replay jobs, the reconcile's cursor, the replies' rate budget.

The services (bot.services.replaying, reconciling, pacing) write them; the dashboard's
Recovery panel sums them up (bot.selectors.dashboard.recovery).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.safestring import SafeString

from bot.admin.base import ReadOnlyAdmin, badge
from bot.models import RateBudget, ReconcileCursor, ReplayJob


class _RecordAdmin(ReadOnlyAdmin):
    """Kept by a service: never added, changed or deleted by hand."""

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(ReplayJob)
class ReplayJobAdmin(_RecordAdmin):
    list_display = ["created_at", "job_x_id", "status_badge", "webhook_x_id", "from_at", "to_at", "updated_at", "last_error"]
    list_filter = ["status"]
    search_fields = ["job_x_id", "webhook_x_id"]
    fields = readonly_fields = ("job_x_id", "status_badge", "webhook_x_id", "from_at", "to_at", "created_at", "updated_at", "last_error")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: ReplayJob) -> SafeString:
        return badge(obj.status, obj.get_status_display())


@admin.register(ReconcileCursor)
class ReconcileCursorAdmin(_RecordAdmin):
    list_display = ["account_x_id", "since_x_id", "until_x_id", "newest_x_id", "posts_read", "last_run_at", "last_summary"]
    fields = readonly_fields = ("account_x_id", "since_x_id", "until_x_id", "newest_x_id", "posts_read", "last_run_at", "last_summary")


@admin.register(RateBudget)
class RateBudgetAdmin(_RecordAdmin):
    list_display = ["endpoint", "remaining", "limit", "resets_at", "probe_until", "updated_at"]
    fields = readonly_fields = ("endpoint", "remaining", "limit", "resets_at", "probe_until", "updated_at")
