"""Make sure a local operator can log in to the admin: creates `admin` once, with a random password."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create the local admin user (once) and say how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/admin/", help="where the admin will be served")

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write(f"Admin: log in at {url} (forgot the password? `.venv/bin/python manage.py changepassword admin`)")
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser("admin", email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created admin user: log in at {url} as admin / {password}"))
        self.stdout.write("This password is shown once; change it with `.venv/bin/python manage.py changepassword admin`.")
