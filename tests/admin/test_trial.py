"""bot.admin.trial: try a photo from the console; staff only."""

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bot.models import Reply, Tweet
from tests.fixtures.aws import stub_detection
from tests.fixtures.media_server import make_image_bytes
from tests.fixtures.pipeline import DOG

pytestmark = pytest.mark.django_db

TRY = reverse("console-trial")


def test_an_uploaded_photo_shows_its_labels_and_the_reply_it_would_get(admin_client, rekognition_stub):
    stub_detection(rekognition_stub, labels=DOG)

    response = admin_client.post(TRY, {"photos": [SimpleUploadedFile("dog.jpg", make_image_bytes(), "image/jpeg")]})

    page = response.content.decode()
    tweet = Tweet.objects.get()
    assert response.status_code == 200 and tweet.is_trial and tweet.reply.status == Reply.Status.DRY_RUN
    assert "Hi @admin. On your image, I can recognise: Dog, Pet, Animal, Mammal." in page and "Dog (99.5%)" in page
    assert "trial" in admin_client.get(reverse("admin:bot_tweet_changelist"), {"is_trial__exact": "1"}).content.decode()


def test_a_file_that_is_not_a_photo_is_refused_in_plain_words(admin_client):
    response = admin_client.post(TRY, {"photos": [SimpleUploadedFile("notes.txt", b"hello", "text/plain")]}, follow=True)

    assert "Not tried: notes.txt:" in response.content.decode() and not Tweet.objects.exists()


def test_five_photos_are_refused(admin_client):
    photos = [SimpleUploadedFile(f"{i}.jpg", make_image_bytes(), "image/jpeg") for i in range(5)]

    response = admin_client.post(TRY, {"photos": photos})

    assert "choose 1 to 4 photos" in response.content.decode() and not Tweet.objects.exists()


def test_anonymous_and_non_staff_users_get_nothing(client):
    for user in (None, User.objects.create_user("someone", password="pw")):
        if user:
            client.force_login(user)
        response = client.post(TRY, {"photos": [SimpleUploadedFile("dog.jpg", make_image_bytes(), "image/jpeg")]})
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Tweet.objects.exists()
