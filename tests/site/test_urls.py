"""The admin's and the console's URLs load when first resolved or reversed (imagebot_site/urls.py, admin_urls.py)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import resolve, reverse

from tests.site.test_apps import run_fresh


def test_the_admin_s_urls_load_when_a_url_is_first_reversed():
    code = (
        "from django.urls import reverse\n"
        "import imagebot_site.urls\n"
        "before = [name for name in ('imagebot_site.admin_urls', 'bot.admin') if name in sys.modules]\n"
        "urls = [reverse('admin:index'), reverse('admin:bot_tweet_changelist'), reverse('admin:auth_user_changelist'),\n"
        "    reverse('console-dashboard'), reverse('console-trial')]\n"
        "print(json.dumps({'before': before, 'urls': urls, 'after': 'bot.admin' in sys.modules}))\n"
    )
    found = json.loads(run_fresh(code))

    assert found == {
        "before": [],
        "urls": ["/admin/", "/admin/bot/tweet/", "/admin/auth/user/", "/admin/dashboard/", "/admin/try/"],
        "after": True,
    }


def test_every_registered_model_has_its_admin_pages_in_the_admin_namespace():
    resolve("/admin/")  # loads the admin's URLs, and with them the registrations
    assert admin.site._registry
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        match = resolve(url)
        assert match.namespace == "admin" and match.url_name.endswith("_changelist")


def test_the_console_s_pages_resolve_outside_the_admin_s_namespace():
    match = resolve("/admin/dashboard/")
    assert match.url_name == "console-dashboard" and match.namespace == ""
    assert resolve("/admin/login/").view_name == "admin:login"
