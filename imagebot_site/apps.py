"""The admin app, without the registrations at start-up (they load with the admin's URLs)."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.contrib.admin import autodiscover
from django.contrib.admin.apps import SimpleAdminConfig
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks


class AdminConfig(SimpleAdminConfig):
    """django.contrib.admin, whose ModelAdmins are registered when imagebot_site.admin_urls is
    first imported (a path under /admin/ resolved, or a URL reversed) rather than by
    django.setup(): the webhook's answer on a Lambda cold start does not wait for them.

    SimpleAdminConfig registers Django's admin check as it is; that check would find no
    ModelAdmin to check if it ran before anything imported the admin's URLs (the checks run
    in no set order). Here it registers every ModelAdmin first.
    """

    def ready(self) -> None:
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(check_admin_app_registered, checks.Tags.admin)


def check_admin_app_registered(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Django's admin check (each site's ModelAdmins), after every app's admin module has registered its own."""
    autodiscover()
    return check_admin_app(app_configs, **kwargs)
