"""Who may read the API (bot/api/permissions.py), how they prove it, and that nobody writes through it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bot.api.permissions import DELIVERY_PERMISSIONS, LABEL_PERMISSIONS, TWEET_PERMISSIONS
from bot.models import Delivery, Tweet
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db

# Every way in, with something to read behind it (records exist in every test here).
READER_URLS = ["/api/", "/api/tweets/", "/api/tweets/{tweet}/", "/api/labels/", "/api/schema/", "/api/docs/"]
STAFF_URLS = ["/api/deliveries/", "/api/deliveries/{delivery}/", "/api/deliveries/{delivery}/body/"]
ALL_URLS = READER_URLS + STAFF_URLS


def urls(zoo, templates):
    return [template.format(tweet=zoo.dog.x_id, delivery=zoo.deliveries[0].pk) for template in templates]


class TestAnonymous:
    @pytest.mark.parametrize("method", ["get", "head", "options"])
    def test_it_gets_401_and_no_data_everywhere(self, zoo, client_for, method):
        for url in [*urls(zoo, ALL_URLS), "/api/no-such-thing/"]:
            response = getattr(client_for(None), method)(url)
            assert response.status_code == 401, url
            assert response["WWW-Authenticate"] == "Token"
            assert zoo.dog.x_id.encode() not in response.content

    def test_a_wrong_token_gets_401(self, zoo):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
        response = client.get("/api/tweets/")
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid token."}

    def test_an_inactive_users_token_gets_401(self, zoo, client_for):
        user = make_user("gone", *TWEET_PERMISSIONS, is_active=False)
        assert client_for(user).get("/api/tweets/").status_code == 401


class TestWhoMayRead:
    def test_a_user_without_permissions_gets_403_everywhere(self, zoo, client_for):
        ordinary = make_user("someone")
        for url in urls(zoo, ALL_URLS):
            response = client_for(ordinary).get(url)
            assert response.status_code == 403, url
            assert zoo.dog.x_id.encode() not in response.content

    def test_staff_status_alone_is_not_enough(self, zoo, client_for):
        staff = make_user("staff", is_staff=True)
        for url in urls(zoo, ALL_URLS):
            assert client_for(staff).get(url).status_code == 403, url

    def test_a_reader_reads_tweets_labels_and_the_schema_but_not_deliveries(self, zoo, client_for, reader):
        for url in urls(zoo, READER_URLS):
            assert client_for(reader).get(url).status_code == 200, url
        for url in urls(zoo, STAFF_URLS):
            assert client_for(reader).get(url).status_code == 403, url

    def test_tweets_need_every_permission_their_records_show(self, zoo, client_for):
        without_replies = make_user("partial", "bot.view_tweet", "bot.view_photo", "bot.view_label")
        assert client_for(without_replies).get("/api/tweets/").status_code == 403

    def test_label_statistics_need_only_the_label_permission(self, zoo, client_for):
        labels_only = make_user("labels", *LABEL_PERMISSIONS)
        assert client_for(labels_only).get("/api/labels/").status_code == 200
        assert client_for(labels_only).get("/api/tweets/").status_code == 403

    def test_deliveries_need_staff_status_as_well_as_the_permission(self, zoo, client_for):
        not_staff = make_user("not-staff", *DELIVERY_PERMISSIONS)
        assert client_for(not_staff).get("/api/deliveries/").status_code == 403
        staff = make_user("debugger", *DELIVERY_PERMISSIONS, is_staff=True)
        assert client_for(staff).get("/api/deliveries/").status_code == 200

    def test_an_operator_reads_everything(self, zoo, client_for, operator):
        for url in urls(zoo, ALL_URLS):
            assert client_for(operator).get(url).status_code == 200, url

    def test_a_superuser_reads_everything(self, zoo, client_for):
        superuser = User.objects.create_superuser("root", password=None)
        for url in urls(zoo, ALL_URLS):
            assert client_for(superuser).get(url).status_code == 200, url


class TestReadOnly:
    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    def test_writes_are_405_and_change_nothing(self, zoo, client_for, operator, method):
        before = (Tweet.objects.count(), Delivery.objects.count(), Tweet.objects.get(pk=zoo.dog.pk).text)
        for url in urls(zoo, ALL_URLS):
            response = getattr(client_for(operator), method)(url, {"text": "changed", "x_id": "1"}, format="json")
            assert response.status_code == 405, (method, url)
        assert (Tweet.objects.count(), Delivery.objects.count(), Tweet.objects.get(pk=zoo.dog.pk).text) == before

    def test_writes_by_an_ordinary_user_are_refused_before_anything_else(self, zoo, client_for):
        response = client_for(make_user("someone")).post("/api/tweets/", {}, format="json")
        assert response.status_code == 403

    def test_options_describes_a_list_without_offering_to_write(self, zoo, api):
        response = api.options("/api/tweets/")
        assert response.status_code == 200
        assert "actions" not in response.json()
        assert response["Allow"] == "GET, HEAD, OPTIONS"

    def test_head_answers_like_get_without_a_body(self, zoo, api):
        response = api.head("/api/tweets/")
        assert response.status_code == 200
        assert response.content == b""


class TestTokens:
    def test_drf_create_token_makes_a_token_that_reads(self, zoo, reader, capsys):
        call_command("drf_create_token", reader.username)
        key = capsys.readouterr().out.split()[2]
        assert Token.objects.get(user=reader).key == key
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get("/api/tweets/").status_code == 200

    def test_a_regenerated_token_replaces_the_old_one(self, zoo, reader, client_for, capsys):
        old = client_for(reader)
        call_command("drf_create_token", reader.username, reset_token=True)
        assert old.get("/api/tweets/").status_code == 401
        assert client_for(reader).get("/api/tweets/").status_code == 200

    def test_a_session_reads_the_browsable_api(self, zoo, reader):
        client = APIClient()
        client.force_login(reader)
        response = client.get("/api/tweets/", HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert zoo.dog.x_id in response.content.decode()

    def test_basic_auth_is_not_accepted(self, zoo, reader):
        reader.set_password("not-used-0123456789")
        reader.save()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Basic bm90ZWJvb2s6bm90LXVzZWQtMDEyMzQ1Njc4OQ==")  # notebook:not-used-0123456789
        assert client.get("/api/tweets/").status_code == 401


def user_rate() -> int:
    """Requests a user may make a minute (settings.REST_FRAMEWORK's `user` rate)."""
    from rest_framework.throttling import UserRateThrottle

    rate = UserRateThrottle().get_rate()
    assert rate is not None and rate.endswith("/minute")
    return int(rate.split("/")[0])


class TestThrottle:
    def test_a_user_past_the_rate_gets_429_with_retry_after(self, zoo, api):
        limit = user_rate()
        for _ in range(limit):
            assert api.get("/api/labels/").status_code == 200
        response = api.get("/api/labels/")
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0

    def test_each_user_has_an_allowance_of_their_own(self, zoo, api, client_for, operator):
        limit = user_rate()
        for _ in range(limit + 1):
            api.get("/api/labels/")
        assert api.get("/api/labels/").status_code == 429
        assert client_for(operator).get("/api/labels/").status_code == 200
