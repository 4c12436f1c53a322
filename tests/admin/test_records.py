"""The admin as an operator uses it: every list and detail page, with real records, and what may be deleted."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from bot.models import Delivery, Label, Photo, Reply, Tweet
from bot.services.storage import photo_storage_name, storage_replace
from tests.fixtures.pipeline import stored_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def records():
    delivery = Delivery.objects.create(
        body=b'{"for_user_id": "1", "tweet_create_events": []}', size=48, outcome="recorded", event_kinds=["tweet_create_events"]
    )
    tweet = Tweet.objects.create(
        x_id="1600000000000000001",
        delivery=delivery,
        author_x_id="2",
        author_username="ana",
        text="@imagebot what is this? 🐶",
        status="done",
        mentions_bot=True,
    )
    skipped = Tweet.objects.create(
        x_id="1600000000000000002", author_x_id="3", author_username="bob", status="skipped", skip_reason="repost", is_repost=True
    )
    photo = Photo.objects.create(tweet=tweet, position=0, source_url="https://pbs.twimg.com/media/a.jpg", status="recognised", size=1234)
    Photo.objects.create(
        tweet=tweet,
        position=1,
        source_url="https://pbs.twimg.com/media/b.gif",
        media_type="animated_gif",
        is_thumbnail=True,
        status="failed",
        last_error="not an image (text/html)",
    )
    Label.objects.create(photo=photo, name="Dog", confidence=99.1, parents=["Animal"], categories=["Animals and Pets"])
    reply = Reply.objects.create(
        tweet=tweet, text="Hi @ana. On your image, I can recognise: Dog.", status="posted", x_id="1900000000000000001"
    )
    return {"delivery": delivery, "tweet": tweet, "skipped": skipped, "photo": photo, "reply": reply}


def test_every_page_shows_the_records(admin_client, records):
    pages = {
        reverse("admin:bot_delivery_changelist"): ["tweet_create_events", "recorded"],
        reverse("admin:bot_delivery_change", args=[records["delivery"].pk]): ["for_user_x_id"],
        reverse("admin:bot_tweet_changelist"): ["@ana", "repost", "mention", "On your image", "https://x.com/i/status/1900000000000000001"],
        reverse("admin:bot_tweet_change", args=[records["tweet"].pk]): ["🐶", "not an image (text/html)", "Dog (99.1%)"],
        reverse("admin:bot_photo_changelist"): ["animated GIF", "not an image"],
        reverse("admin:bot_photo_change", args=[records["photo"].pk]): ["Animals and Pets"],
        reverse("admin:bot_label_changelist"): ["Dog"],
        reverse("admin:bot_reply_changelist"): ["1900000000000000001", "On your image"],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for text in expected:
            assert text in body, (url, text)


def test_an_operator_can_filter_and_search(admin_client, records):
    response = admin_client.get(reverse("admin:bot_tweet_changelist"), {"status__exact": "skipped"})
    assert records["skipped"].x_id in response.content.decode()
    assert records["tweet"].x_id not in response.content.decode()
    response = admin_client.get(reverse("admin:bot_tweet_changelist"), {"q": "ana"})
    assert records["tweet"].x_id in response.content.decode()


def test_records_cannot_be_typed_in_by_hand(admin_client, records):
    assert admin_client.get(reverse("admin:bot_tweet_add")).status_code == 403
    response = admin_client.post(reverse("admin:bot_reply_change", args=[records["reply"].pk]), {"text": "forged", "status": "posted"})
    assert response.status_code == 403
    assert Reply.objects.get().text.startswith("Hi @ana.")


def test_the_admin_needs_a_login(client, records):
    response = client.get(reverse("admin:bot_tweet_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- What an operator may delete -----------------------------------------------------------------


@pytest.fixture
def stored(records):
    """The photo's file really stored, as the pipeline leaves it with IMAGEBOT_KEEP_PHOTOS."""
    name = storage_replace(photo_storage_name(tweet_x_id=records["tweet"].x_id, position=0, extension="jpg"), b"\xff\xd8 a photo")
    Photo.objects.filter(pk=records["photo"].pk).update(file=name)
    return name


def test_deleting_a_tweet_takes_its_photos_labels_reply_and_stored_files(admin_client, records, stored, django_capture_on_commit_callbacks):
    url = reverse("admin:bot_tweet_delete", args=[records["tweet"].pk])
    page = admin_client.get(url).content.decode()
    assert "Are you sure" in page and "have permission to delete" not in page  # its photos, labels and reply go with it

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert list(Tweet.objects.all()) == [records["skipped"]]
    assert not Photo.objects.exists() and not Label.objects.exists() and not Reply.objects.exists()
    assert stored_files() == [] and not (Path(settings.MEDIA_ROOT) / "photos" / records["tweet"].x_id).exists()
    assert Delivery.objects.count() == 1


def test_delete_selected_deletes_the_tweets_and_their_stored_files(admin_client, records, stored, django_capture_on_commit_callbacks):
    chosen = [records["tweet"].pk, records["skipped"].pk]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:bot_tweet_changelist"), {"action": "delete_selected", "_selected_action": chosen, "post": "yes"}
        )

    assert response.status_code == 302
    assert not Tweet.objects.exists() and not Photo.objects.exists() and not Reply.objects.exists()
    assert stored_files() == []


def test_staff_delete_a_tweet_only_with_the_delete_permission(client, records, stored, django_capture_on_commit_callbacks):
    staff = User.objects.create_user("operator", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_tweet", "view_photo", "view_label", "view_reply"]))
    client.force_login(staff)
    url = reverse("admin:bot_tweet_delete", args=[records["tweet"].pk])

    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Tweet.objects.filter(pk=records["tweet"].pk).exists() and stored_files() == [stored]

    staff.user_permissions.add(Permission.objects.get(codename="delete_tweet"))
    client.force_login(User.objects.get(pk=staff.pk))  # permissions are cached per user object
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Tweet.objects.filter(pk=records["tweet"].pk).exists() and stored_files() == []


@pytest.mark.parametrize("model", ["photo", "label", "reply"])
def test_a_tweets_photo_label_or_reply_cannot_be_deleted_alone(admin_client, records, model):
    obj = {"photo": records["photo"], "label": Label.objects.get(), "reply": records["reply"]}[model]

    assert admin_client.post(reverse(f"admin:bot_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    changelist = admin_client.get(reverse(f"admin:bot_{model}_changelist")).content.decode()
    assert "delete_selected" not in changelist
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_deleting_a_delivery_keeps_its_tweets(admin_client, records):
    response = admin_client.post(reverse("admin:bot_delivery_delete", args=[records["delivery"].pk]), {"post": "yes"})

    assert response.status_code == 302 and not Delivery.objects.exists()
    tweet = Tweet.objects.get(pk=records["tweet"].pk)
    assert tweet.delivery is None and tweet.photos.count() == 2 and Reply.objects.filter(tweet=tweet).exists()
