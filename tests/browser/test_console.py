"""The console in a real browser, as an operator uses it, against the live site and the local fake X.

One walk through: log in, the dashboard, the tweet list (it fits 1366 px), a filter, a tweet's
page with its photo, an action, registering the webhook (X's CRC check reaches the live site
for real), try a photo. Screenshots of each page go to docs/screenshots/ (the README shows some).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from bot.models import Photo, Reply, Tweet, Webhook
from tests.fixtures.aws import stub_detection
from tests.fixtures.media_server import make_image_bytes
from tests.fixtures.pipeline import DOG, DOG_REPLY
from tests.fixtures.records import PhotoSpec, record_delivery, record_tweet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("x_waits")]

PASSWORD = "console-test-password"


def _records(tmp_path) -> dict[str, Tweet]:
    delivery = record_delivery()
    now = timezone.now()
    dog = record_tweet(
        author="ana",
        text="@imagebot what is this? 🐶",
        photos=[PhotoSpec(labels=[("Dog", 99.5, ("Animal", "Pet")), ("Pet", 99.1, ("Animal",)), ("Animal", 98.7)])],
        reply=DOG_REPLY,
        delivery=delivery,
    )
    photo = dog.photos.get()
    photo.file.name = default_storage.save(f"photos/{dog.x_id}/0.jpg", ContentFile(make_image_bytes(size=(480, 320), color="peru")))
    photo.content_type = "image/jpeg"
    photo.save(update_fields=["file", "content_type"])
    car = record_tweet(author="bob", text="@imagebot and this?", photos=[PhotoSpec(labels=[("Car", 99.0), ("Wheel", 95.5)])])
    Reply.objects.create(tweet=car, text="Hi @bob. I don't see an animal on your image, but I can recognise: Car, Wheel.", status="dry_run")
    failed = record_tweet(author="cy", text="@imagebot look", status=Tweet.Status.FAILED)
    Tweet.objects.filter(pk=failed.pk).update(attempts=5, last_error="gave up after 5 attempts: reply: 503 Service Unavailable")
    for days in range(1, 12):  # some history for the charts
        old = record_tweet(author=f"user{days}", photos=[PhotoSpec(labels=[("Cat", 97.0, ("Animal",))])], reply=f"Hi. Cat {days}.")
        Tweet.objects.filter(pk=old.pk).update(received_at=now - timedelta(days=days * 2))
        Reply.objects.filter(tweet=old).update(posted_at=now - timedelta(days=days * 2))
    return {"dog": dog, "car": car, "failed": failed}


def _log_in(browser, live_server) -> None:
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("operator")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]"))
    assert browser.find_element(By.ID, "console-nav").is_displayed()


def _follow(browser, element) -> None:
    """Click what leads to another page, and wait until it has replaced this one: a form's
    submission can still be on its way when the click returns, and the old page's elements
    would be read (or go stale while read).

    The old page is marked on its window, and the wait is for a loaded document without the
    mark. Watching the old <html> element go stale is not enough: while chromium swaps the
    documents it can answer "Node with given id does not belong to the document" as an
    unknown error rather than as a stale element, so errors while the page changes are
    waited through (a page that never comes still fails, after 15 s)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.imagebotLeaving = true;")
    element.click()
    WebDriverWait(browser, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script("return document.readyState === 'complete' && window.imagebotLeaving === undefined;")
    )


def _messages(browser) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(element.text for element in browser.find_elements(By.CSS_SELECTOR, "ul.messagelist li"))


def test_an_operator_runs_the_bot_from_the_console(browser, screenshot, live_server, fake_x, rekognition_stub, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    User.objects.create_superuser("operator", "operator@example.com", PASSWORD)
    rows = _records(tmp_path)
    browser.delete_all_cookies()

    # Log in: the console's links are at the top of every page.
    _log_in(browser, live_server)
    assert "Dashboard" in browser.find_element(By.ID, "console-links").text

    # The dashboard.
    _follow(browser, browser.find_element(By.LINK_TEXT, "Dashboard"))
    assert "Health" in browser.find_element(By.ID, "health").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.console-chart")) == 4
    assert "Dog" in browser.find_element(By.ID, "top-labels").text
    screenshot("dashboard")

    # The tweet list fits a 1366 px screen.
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "#console-nav a[href$='/bot/tweet/']"))
    assert DOG_REPLY[:40] in browser.find_element(By.ID, "result_list").text
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 1366
    results = browser.find_element(By.CSS_SELECTOR, "#changelist .results")
    widths = browser.execute_script("return [arguments[0].scrollWidth, arguments[0].clientWidth]", results)
    screenshot("tweets")
    assert widths[0] <= widths[1], widths  # no sideways scrolling
    screenshot("tweets")

    # A filter: posts that show an animal.
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "#changelist-filter a[href*='animal=yes']"))
    listed = browser.find_element(By.ID, "result_list").text
    assert rows["dog"].x_id in listed and rows["car"].x_id not in listed

    # A tweet's page: the reply with its link on X, the photo, its labels.
    _follow(browser, browser.find_element(By.LINK_TEXT, rows["dog"].x_id))
    page = browser.find_element(By.ID, "content").text
    assert DOG_REPLY in page and "Dog (99.5%)" in page
    image = browser.find_element(By.CSS_SELECTOR, "img[alt='photo 1']")
    assert browser.execute_script("return arguments[0].naturalWidth", image) == 480  # streamed to staff from storage
    screenshot("tweet")

    # An action: re-run the failed post.
    browser.get(live_server.url + "/admin/bot/tweet/")
    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{rows['failed'].pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("reprocess")
    _follow(browser, browser.find_element(By.NAME, "index"))
    assert "Re-run: 1 done" in _messages(browser)
    assert Tweet.objects.get(pk=rows["failed"].pk).status != Tweet.Status.FAILED

    # Register the webhook: X's CRC check reaches this live site and passes.
    fake_x.crc_over_http = True
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "#console-nav a[href$='/bot/webhook/']"))
    field = browser.find_element(By.ID, "webhook-url")
    field.clear()
    field.send_keys(live_server.url + "/webhooks/x/")
    _follow(browser, browser.find_element(By.ID, "webhook-register"))
    assert "CRC check passed" in _messages(browser)
    webhook = Webhook.objects.get()
    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{webhook.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("subscribe")
    _follow(browser, browser.find_element(By.NAME, "index"))
    assert "the bot account is subscribed" in _messages(browser)
    screenshot("webhook")

    # Try a photo: the labels and the reply the bot would post, in dry run.
    stub_detection(rekognition_stub, labels=DOG)
    photo_path = tmp_path / "dog.jpg"
    photo_path.write_bytes(make_image_bytes(size=(400, 300), color="sienna"))
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "#console-nav a[href$='/try/']"))
    browser.find_element(By.CSS_SELECTOR, "#trial-form input[type=file]").send_keys(str(photo_path))
    _follow(browser, browser.find_element(By.ID, "trial-submit"))
    assert browser.find_element(By.ID, "trial-reply").text == "Hi @operator. On your image, I can recognise: Dog, Pet, Animal, Mammal."
    screenshot("try")
    trial = Tweet.objects.get(is_trial=True)
    assert trial.reply.status == Reply.Status.DRY_RUN and Photo.objects.filter(tweet=trial).count() == 1
    assert not any(post["text"].startswith("Hi @operator") for post in fake_x.posts())


def test_a_visitor_who_is_not_staff_sees_only_the_login(browser, live_server):
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    for path in ("/admin/dashboard/", "/admin/try/", "/admin/bot/webhook/"):
        browser.get(live_server.url + path)
        assert "/admin/login/" in browser.current_url
        assert browser.find_elements(By.NAME, "username")
