"""The admin app registers its ModelAdmins with its URLs, and Django's admin check still sees every one (imagebot_site/apps.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def run_fresh(code: str) -> str:
    """`code` in a new interpreter after django.setup(), where nothing has loaded the admin's URLs yet."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "imagebot_site.settings"}
    prelude = "import django, json, sys; django.setup()\n"
    result = subprocess.run([sys.executable, "-c", prelude + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_admin_check_checks_every_model_admin_though_no_admin_url_was_loaded():
    # Only the admin's checks (not the URL checks, which would load the admin's URLs): the
    # checks run in no set order, so the admin's must not depend on another having run first.
    code = (
        "from django.contrib import admin\n"
        "from django.contrib.admin.checks import ModelAdminChecks\n"
        "from django.core import checks\n"
        "before = sorted(type(model_admin).__name__ for model_admin in admin.site._registry.values())\n"
        "checked = []\n"
        "original = ModelAdminChecks.check\n"
        "def check(self, admin_obj, **kwargs):\n"
        "    checked.append(type(admin_obj).__name__)\n"
        "    return original(self, admin_obj, **kwargs)\n"
        "ModelAdminChecks.check = check\n"
        "errors = [str(error) for error in checks.run_checks(tags=[checks.Tags.admin])]\n"
        "registered = sorted(type(model_admin).__name__ for model_admin in admin.site._registry.values())\n"
        "print(json.dumps({'before': before, 'checked': sorted(checked), 'registered': registered, 'errors': errors,\n"
        "    'urls_loaded': 'imagebot_site.admin_urls' in sys.modules}))\n"
    )
    found = json.loads(run_fresh(code))

    assert found["before"] == []  # django.setup() registered nothing
    assert {"TweetAdmin", "DeliveryAdmin", "WebhookAdmin", "UserAdmin", "GroupAdmin"} <= set(found["checked"])
    assert found["checked"] == found["registered"]
    assert found["errors"] == []
    assert not found["urls_loaded"]


def test_the_admin_check_reports_a_broken_model_admin():
    code = (
        "from django.core import checks\n"
        "from bot.admin.tweets import TweetAdmin\n"
        "TweetAdmin.list_display = ('no_such_column',)\n"
        "print(json.dumps([error.id for error in checks.run_checks(tags=[checks.Tags.admin])]))\n"
    )
    assert json.loads(run_fresh(code)) == ["admin.E108"]
