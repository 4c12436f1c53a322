"""The operator's console: the Django admin made the place from which people run the bot.

- dashboard: health, counts, charts, failures, stuck and rate-limited posts, costs;
- tweets, parts, deliveries: the records, with actions that call bot.services.console;
- webhooks: the X webhook and the bot's subscription (bot.services.webhooks), with the
  X Activity API subscriptions (activity: bot.services.activity);
- optouts: who opted out, opted out or back in by an operator (bot.services.opting);
- recovery: replay jobs, the reconcile's cursor, the replies' rate budget, read only;
- trial: try a photo through the real pipeline, in dry run.

Every page is the admin's: staff only (others are sent to the login page), and each action
checks its own permission. `console_urls()` are the console's pages outside a model's.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, path

from bot.admin import deliveries, optouts, parts, recovery, tweets, webhooks
from bot.admin.dashboard import dashboard_view, sweep_view
from bot.admin.trial import trial_view

admin.site.site_header = "imagebot console"
admin.site.site_title = "imagebot"
admin.site.index_title = "Records"
# The bot has no public site of its own: "View site" opens the dashboard.
admin.site.site_url = "/admin/dashboard/"
# The console's links sit at the top of every page; the sidebar would take the room lists need at 1366 px.
admin.site.enable_nav_sidebar = False


def console_urls() -> list[URLPattern]:
    """The dashboard, the sweeper button and the try page, under /admin/, through admin_view (staff only, CSRF, no cache)."""
    return [
        path("dashboard/", admin.site.admin_view(dashboard_view), name="console-dashboard"),
        path("dashboard/sweep/", admin.site.admin_view(sweep_view), name="console-sweep"),
        path("try/", admin.site.admin_view(trial_view), name="console-trial"),
    ]


__all__ = ["console_urls", "deliveries", "optouts", "parts", "recovery", "tweets", "webhooks"]
