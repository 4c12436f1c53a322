"""bot.services.opting: "stop" and "start", honoured before anything of the author's is downloaded."""

from __future__ import annotations

import pytest

from bot import services
from bot.events import samples as payloads
from bot.models import OptOut, Reply, Tweet
from bot.services.opting import opt_word
from tests.fixtures.aws import stub_detection
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests
from tests.fixtures.media_server import serve_jpeg
from tests.fixtures.pipeline import DOG, DOG_REPLY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("x_waits")]

BOT_REPLY_ID = "1900000000000000001"


def reply_to_bot(text: str, **fields) -> dict:
    """An X Activity post.reply.create: the author answers one of the bot's replies."""
    post = payloads.v2_post(text=text, photos=0, mention_bot=False, replied_to=(BOT_REPLY_ID, payloads.BOT_ID), **fields)
    return payloads.activity_delivery(post, event_type="post.reply.create")


@pytest.mark.parametrize("text", ["stop", "STOP", " Stop! ", "@imagebot stop", "@imagebot @ana stop.", "unsubscribe", "opt out"])
def test_these_are_stop_words(text):
    assert opt_word(text) in services.opting.STOP_WORDS


@pytest.mark.parametrize("text", ["start", "@imagebot Start", "opt-in"])
def test_these_are_start_words(text):
    assert opt_word(text) in services.opting.START_WORDS


@pytest.mark.parametrize("text", ["please stop the music", "stopwatch", "don't stop", "", "@stop"])
def test_other_texts_are_no_opt_word(text):
    assert opt_word(text) == ""


def test_an_opted_out_author_gets_nothing_and_nothing_of_theirs_is_fetched(deliver, deliver_payload, fake_x, media_server):
    url, _data = serve_jpeg(media_server)

    deliver_payload(reply_to_bot("stop"))
    deliver(payloads.tweet(urls=[url]))  # by Account Activity
    deliver_payload(payloads.activity_delivery(payloads.v2_post()))  # by X Activity, photo to look up

    optout = OptOut.objects.get()
    assert (optout.author_x_id, optout.author_username, optout.opted_out, optout.word) == (payloads.AUTHOR_ID, "ana", True, "stop")
    assert list(Tweet.objects.values_list("status", flat=True)) == [Tweet.Status.SKIPPED] * 3
    assert set(Tweet.objects.values_list("skip_reason", flat=True)) == {"its author opted out (stop)", services.opting.OPTED_OUT_REASON}
    assert media_server.paths == [] and fake_x.requests == [] and not Reply.objects.exists()


def test_start_opts_back_in(deliver, deliver_payload, fake_x, media_server, rekognition_stub):
    url, data = serve_jpeg(media_server)
    stub_detection(rekognition_stub, labels=DOG, image={"Bytes": data})
    deliver_payload(reply_to_bot("stop"))
    deliver_payload(reply_to_bot("start"))

    deliver(payloads.tweet(urls=[url]))

    assert OptOut.objects.get().opted_out is False
    assert Reply.objects.get().text == DOG_REPLY
    assert_x_saw_only_valid_requests(fake_x)


def test_a_stop_and_a_start_arriving_out_of_order_end_as_the_later_post_says(deliver_payload, fake_x):
    older_stop, newer_start = payloads.next_id(), payloads.next_id()

    deliver_payload(reply_to_bot("start", tweet_id=newer_start))
    deliver_payload(reply_to_bot("stop", tweet_id=older_stop))  # a replay, late

    assert OptOut.objects.get().opted_out is False
    assert not services.author_opted_out(payloads.AUTHOR_ID)


def test_an_opt_out_between_recording_and_processing_stops_the_download(
    post_signed, fake_x, media_server, django_capture_on_commit_callbacks
):
    url, _data = serve_jpeg(media_server)
    post = payloads.tweet(urls=[url])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post_signed(payloads.delivery(post)).status_code == 200
    services.optout_create(payloads.AUTHOR_ID, username="ana")  # an operator, meanwhile

    for callback in callbacks:
        callback()

    tweet = Tweet.objects.get()
    assert (tweet.status, tweet.skip_reason) == (Tweet.Status.SKIPPED, services.opting.OPTED_OUT_REASON)
    assert media_server.paths == [] and fake_x.requests == []


def test_operators_list_add_and_remove_opt_outs():
    services.optout_create("1500000000000000077", username="zed")
    assert [(e.author_x_id, e.author_username, e.opted_out) for e in services.optout_list()] == [("1500000000000000077", "zed", True)]
    assert services.optout_delete("1500000000000000077") is True
    assert services.optout_list() == [] and services.optout_delete("1500000000000000077") is False


def test_a_newer_start_post_undoes_an_operators_opt_out(deliver_payload, fake_x):
    services.optout_create(payloads.AUTHOR_ID)
    deliver_payload(reply_to_bot("start", tweet_id=str(int(services.opting._x_id_now()) + 1)))
    assert not services.author_opted_out(payloads.AUTHOR_ID)
