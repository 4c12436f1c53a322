"""What the API's tests share: users who may (or may not) read, clients carrying their tokens, records to read.

reader          a user (not staff) who may view tweets, photos, labels and replies
operator        a staff user who may also view deliveries
client_for(user) -> APIClient sending that user's token (None: anonymous)
api             client_for(reader)
zoo             tests.fixtures.records.record_zoo(): a dog, a car, a flagged photo, …
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bot.api.permissions import DELIVERY_PERMISSIONS, LABEL_PERMISSIONS, TWEET_PERMISSIONS
from tests.fixtures.records import Zoo, record_zoo


def make_user(username: str, *permissions: str, is_staff: bool = False, is_active: bool = True) -> User:
    """A user holding these permissions ("bot.view_tweet", …). No password: tokens and sessions need none, and hashing one is slow."""
    user = User.objects.create_user(username, password=None, is_staff=is_staff, is_active=is_active)
    codenames = [permission.removeprefix("bot.") for permission in permissions]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="bot", codename__in=codenames))
    return user


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """The throttle counts requests in the cache: every test starts with a full allowance."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reader(db) -> User:
    return make_user("notebook", *TWEET_PERMISSIONS, *LABEL_PERMISSIONS)


@pytest.fixture
def operator(db) -> User:
    return make_user("operator", *TWEET_PERMISSIONS, *LABEL_PERMISSIONS, *DELIVERY_PERMISSIONS, is_staff=True)


@pytest.fixture
def client_for(db):
    def client_for_(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for_


@pytest.fixture
def api(client_for, reader) -> APIClient:
    return client_for(reader)


@pytest.fixture
def zoo(db) -> Zoo:
    return record_zoo()
