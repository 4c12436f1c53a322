"""bot.admin.tweets and bot.admin.parts: columns, filters, search, actions, query counts, private photos."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bot.models import Photo, Reply, Tweet
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests
from tests.fixtures.pipeline import DOG_REPLY
from tests.fixtures.records import PhotoSpec, record_tweet

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]

TWEETS = reverse("admin:bot_tweet_changelist")


def _stored(photo: Photo, data: bytes = b"\xff\xd8\xff jpeg bytes") -> Photo:
    photo.file.name = default_storage.save(f"photos/{photo.tweet.x_id}/{photo.position}.jpg", ContentFile(data))
    photo.content_type = "image/jpeg"
    photo.save(update_fields=["file", "content_type"])
    return photo


def _zoo() -> dict[str, Tweet]:
    return {
        "dog": record_tweet(author="ana", text="my dog", photos=[PhotoSpec(labels=[("Dog", 99.0, ("Animal",))])], reply=DOG_REPLY),
        "car": record_tweet(
            author="bob", text="my car", photos=[PhotoSpec(labels=[("Car", 98.0)])], reply="Hi @bob. Car.", reply_status="failed"
        ),
        "flagged": record_tweet(author="cy", photos=[PhotoSpec(flagged=True, moderation=[("Violence", 91.0)])]),
        "text_only": record_tweet(author="dee", text="no photo here", status=Tweet.Status.FAILED),
    }


def _listed(response) -> set[str]:
    return {tweet.x_id for tweet in response.context["cl"].result_list}


# --- Columns -----------------------------------------------------------------------------------


def test_the_list_shows_badges_the_reply_with_its_link_and_the_last_error(admin_client):
    zoo = _zoo()
    Tweet.objects.filter(pk=zoo["text_only"].pk).update(last_error="reply: 403 Forbidden: You are not permitted")

    page = admin_client.get(TWEETS).content.decode()

    assert 'class="console-badge"' in page and ">done</span>" in page and ">failed</span>" in page
    assert DOG_REPLY in page and f"https://x.com/i/status/{zoo['dog'].reply.x_id}" in page
    assert "no reply" in page and "403 Forbidden" in page


def test_a_deleted_post_says_why_without_calling_itself_skipped(admin_client):
    tweet = record_tweet(status=Tweet.Status.DELETED)
    Tweet.objects.filter(pk=tweet.pk).update(skip_reason="deleted before the tweet itself was delivered")

    page = admin_client.get(TWEETS).content.decode()

    assert "deleted before the tweet itself was delivered" in page and "skipped: deleted" not in page


def test_the_detail_page_shows_the_reply_photos_labels_and_moderation_labels(admin_client):
    zoo = _zoo()
    _stored(zoo["dog"].photos.get())

    dog = admin_client.get(reverse("admin:bot_tweet_change", args=[zoo["dog"].pk])).content.decode()
    flagged = admin_client.get(reverse("admin:bot_tweet_change", args=[zoo["flagged"].pk])).content.decode()

    assert DOG_REPLY in dog and f"https://x.com/i/status/{zoo['dog'].reply.x_id}" in dog
    assert reverse("admin:bot_photo_image", args=[zoo["dog"].photos.get().pk]) in dog and "Dog (99.0%)" in dog
    assert "Violence (91.0%)" in flagged


def test_a_photo_counts_from_one_on_its_page(admin_client):
    photo = _zoo()["dog"].photos.get()

    page = admin_client.get(reverse("admin:bot_photo_change", args=[photo.pk])).content.decode()

    assert "photo 1 of tweet" in page and "1 of the post&#x27;s photos" in page


def test_view_site_opens_the_dashboard(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()

    assert 'href="/admin/dashboard/"' in page and admin_client.get("/admin/dashboard/").status_code == 200


# --- Filters and search ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"has_photos": "yes"}, {"dog", "car", "flagged"}),
        ({"has_photos": "no"}, {"text_only"}),
        ({"animal": "yes"}, {"dog"}),
        ({"animal": "no"}, {"car", "flagged", "text_only"}),
        ({"flagged": "yes"}, {"flagged"}),
        ({"flagged": "no"}, {"dog", "car", "text_only"}),
        ({"status__exact": "failed"}, {"text_only"}),
        ({"is_trial__exact": "1"}, set()),
        ({"q": "bob"}, {"car"}),
        ({"q": "no photo here"}, {"text_only"}),
        ({"q": "Dog"}, {"dog"}),
    ],
)
def test_filters_and_search(admin_client, query, expected):
    zoo = _zoo()

    response = admin_client.get(TWEETS, query)

    assert response.status_code == 200
    assert _listed(response) == {zoo[name].x_id for name in expected}


def test_the_date_filter(admin_client):
    zoo = _zoo()
    Tweet.objects.filter(pk=zoo["dog"].pk).update(received_at=timezone.now() - timedelta(days=40))

    response = admin_client.get(TWEETS, {"received_at__gte": str(timezone.now() - timedelta(days=7))})  # the filter's "Past 7 days"

    assert zoo["dog"].x_id not in _listed(response) and zoo["car"].x_id in _listed(response)


# --- The query count does not grow with the rows --------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("changelist", ["tweet", "photo", "reply", "delivery", "label"])
def test_a_change_lists_query_count_does_not_grow_with_its_rows(admin_client, changelist):
    url = reverse(f"admin:bot_{changelist}_changelist")
    _zoo()
    few = _queries(admin_client, url)
    for _ in range(12):
        _zoo()

    assert _queries(admin_client, url) == few


# --- Actions -----------------------------------------------------------------------------------


def _act(client, action: str, tweets, url: str = TWEETS):
    response = client.post(url, {"action": action, "_selected_action": [tweet.pk for tweet in tweets]}, follow=True)
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def test_re_run_reports_what_it_did_and_what_it_refused(admin_client, django_capture_on_commit_callbacks):
    zoo = _zoo()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        messages = _act(admin_client, "reprocess", [zoo["text_only"], zoo["dog"]])

    assert any("Re-run: 1 done" in message for message in messages)
    assert any("Re-run: 1 refused" in message and "done, nothing to re-run" in message for message in messages)
    assert Tweet.objects.get(pk=zoo["text_only"].pk).status == Tweet.Status.RECEIVED and len(callbacks) == 1


def test_retry_reply_refuses_a_reply_that_did_not_fail(admin_client, django_capture_on_commit_callbacks):
    zoo = _zoo()
    Tweet.objects.filter(pk=zoo["car"].pk).update(status=Tweet.Status.FAILED)

    with django_capture_on_commit_callbacks(execute=False):
        messages = _act(admin_client, "retry_reply", [zoo["car"], zoo["dog"]])

    assert any("1 done" in message for message in messages) and any("only a failed reply" in message for message in messages)
    assert Reply.objects.get(tweet=zoo["car"]).status == Reply.Status.PENDING


def test_post_for_real_posts_a_dry_run_reply_once(admin_client, fake_x):
    tweet = record_tweet(reply=DOG_REPLY, reply_status=Reply.Status.DRY_RUN)

    first = _act(admin_client, "post_for_real", [tweet])
    second = _act(admin_client, "post_for_real", [tweet])

    assert any("posted as" in message for message in first) and any("already posted" in message for message in second)
    assert len(fake_x.posts()) == 1
    assert_x_saw_only_valid_requests(fake_x)


def test_post_for_real_from_the_reply_list(admin_client, fake_x):
    tweet = record_tweet(reply=DOG_REPLY, reply_status=Reply.Status.DRY_RUN)

    messages = _act(admin_client, "post_for_real", [tweet.reply], url=reverse("admin:bot_reply_changelist"))

    assert any("posted as" in message for message in messages) and len(fake_x.posts()) == 1


def test_delete_photos_removes_the_files_and_keeps_the_rows(admin_client):
    zoo = _zoo()
    photo = _stored(zoo["dog"].photos.get())

    messages = _act(admin_client, "delete_photos", [zoo["dog"], zoo["text_only"]])

    assert any("1 stored photo deleted" in message for message in messages) and any("no stored photos" in message for message in messages)
    assert not default_storage.exists(photo.file.name) and Photo.objects.get(pk=photo.pk).file.name == ""


# --- Stored photos stay private ------------------------------------------------------------------


def test_the_image_view_streams_the_stored_photo_to_staff(admin_client):
    photo = _stored(_zoo()["dog"].photos.get(), b"\xff\xd8\xff the photo")

    response = admin_client.get(reverse("admin:bot_photo_image", args=[photo.pk]))

    assert response.status_code == 200 and b"".join(response.streaming_content) == b"\xff\xd8\xff the photo"
    assert response["Content-Type"] == "image/jpeg" and "private" in response["Cache-Control"]


def test_anonymous_and_non_staff_users_get_no_photo(client):
    photo = _stored(_zoo()["dog"].photos.get(), b"\xff\xd8\xff the photo")
    url = reverse("admin:bot_photo_image", args=[photo.pk])

    anonymous = client.get(url)
    client.force_login(User.objects.create_user("someone", password="pw"))
    not_staff = client.get(url)
    staff = User.objects.create_user("clerk", password="pw", is_staff=True)  # staff, but may not view photos
    client.force_login(staff)
    no_permission = client.get(url)

    for response in (anonymous, not_staff):
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert no_permission.status_code == 403
    assert all(b"the photo" not in getattr(r, "content", b"") for r in (anonymous, not_staff, no_permission))
    client.logout()
    assert client.get(default_storage.url(photo.file.name)).status_code == 404  # the file itself is never served by the site


def test_a_photo_without_a_stored_file_is_not_found(admin_client):
    photo = _zoo()["dog"].photos.get()

    assert admin_client.get(reverse("admin:bot_photo_image", args=[photo.pk])).status_code == 404


def test_actions_need_staff_who_may_view_tweets(client):
    zoo = _zoo()
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_tweet"))
    client.force_login(staff)

    response = client.get(TWEETS)

    assert response.status_code == 200
    actions = {value for value, _ in response.context["action_form"].fields["action"].choices}
    assert {"reprocess", "retry_reply", "post_for_real", "delete_photos"} <= actions and "delete_selected" not in actions
    assert zoo["dog"].x_id in response.content.decode()


def test_on_s3_the_photo_streams_from_the_private_bucket(admin_client, client, s3_server):
    photo = _stored(_zoo()["dog"].photos.get(), b"\xff\xd8\xff from the bucket")
    assert s3_server.keys() == [photo.file.name]

    response = admin_client.get(reverse("admin:bot_photo_image", args=[photo.pk]))
    anonymous = client.get(reverse("admin:bot_photo_image", args=[photo.pk]))

    assert response.status_code == 200 and b"".join(response.streaming_content) == b"\xff\xd8\xff from the bucket"
    assert anonymous.status_code == 302
