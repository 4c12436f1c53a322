"""The admin as an operator uses it: every list and detail page, with real records."""

import pytest
from django.urls import reverse

from bot.models import Delivery, Label, Photo, Reply, Tweet

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
        reverse("admin:bot_tweet_changelist"): ["@ana", "skipped: repost", "mention"],
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
