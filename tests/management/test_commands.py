"""bot/management/commands: each calls the same services the webhook and Lambda use."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bot import recognition
from bot.events import samples as payloads
from bot.models import Delivery, Reply, Tweet
from tests.fixtures.aws import labels_response, stub_detection
from tests.fixtures.fake_x import assert_x_saw_only_valid_requests
from tests.fixtures.media_server import make_image_bytes

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def photo_file(tmp_path):
    path = tmp_path / "dog.png"
    path.write_bytes(make_image_bytes("PNG", (240, 160)))
    return path


@pytest.mark.django_db(transaction=True)  # real commits: dispatch runs inside the command, as in use
def test_try_mention_runs_the_whole_bot_and_prints_labels_and_the_dry_run_reply(photo_file, rekognition_stub):
    stub_detection(
        rekognition_stub,
        labels=labels_response(("Dog", 98.5, ["Animal", "Pet"]), ("Animal", 97.0)),
        image={"Bytes": photo_file.read_bytes()},
    )

    output = run("try_mention", str(photo_file), "--username", "ana")

    rekognition_stub.assert_no_pending_responses()
    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.DONE
    assert tweet.reply.status == Reply.Status.DRY_RUN
    assert "Dog 98.5%" in output
    assert "Hi @ana. On your image, I can recognise: Dog, Animal." in output


@pytest.mark.django_db(transaction=True)
def test_try_mention_without_aws_credentials_fails_the_tweet_in_plain_words(photo_file, fake_aws_env, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    output = run("try_mention", str(photo_file))

    tweet = Tweet.objects.get()
    assert tweet.status == Tweet.Status.FAILED
    assert tweet.last_error == "AWS credentials are not configured"
    assert "Traceback" not in output and "AWS credentials are not configured" in output
    assert not Reply.objects.exists()


@pytest.mark.parametrize("checks", ["as-manage-py-runs-it", "as-call-command-runs-it"])
def test_try_mention_with_a_bad_setting_exits_non_zero_before_sending_anything(photo_file, monkeypatch, checks):
    monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "abc")
    options = {"skip_checks": False} if checks == "as-manage-py-runs-it" else {}

    with pytest.raises(CommandError) as refused:
        call_command("try_mention", str(photo_file), stdout=StringIO(), stderr=StringIO(), **options)

    assert refused.value.returncode == 1
    assert "IMAGEBOT_MAX_LABELS='abc': must be a whole number from 1 to 1,000" in str(refused.value)
    assert not Delivery.objects.exists() and not Tweet.objects.exists()


def test_try_mention_post_without_x_credentials_is_refused_before_sending_anything(photo_file):
    with pytest.raises(CommandError, match="replies are posted, so X_CONSUMER_KEY, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET must be set"):
        run("try_mention", str(photo_file), "--post")

    assert not Delivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_try_mention_exits_non_zero_when_a_step_breaks_half_way(photo_file, rekognition_stub, monkeypatch, caplog):
    def broken(image, **kwargs):
        raise RuntimeError("a bug in recognition")

    monkeypatch.setattr(recognition, "detect", broken)

    with pytest.raises(CommandError, match="the tweet was left processing, not settled: RuntimeError: a bug in recognition"):
        run("try_mention", str(photo_file))

    assert Tweet.objects.get().status == Tweet.Status.PROCESSING  # kept for the sweeper, as always


def test_try_mention_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run("try_mention", str(tmp_path / "nope.jpg"))


def test_replay_delivery_from_a_file_and_by_id_records_each_post_once(tmp_path, dispatched):
    body = json.dumps(payloads.delivery(payloads.tweet())).encode()
    path = tmp_path / "delivery.json"
    path.write_bytes(body)

    assert "new tweets: 1" in run("replay_delivery", str(path))
    first = Delivery.objects.get()
    assert "new tweets: 0" in run("replay_delivery", "--id", str(first.pk))
    assert Tweet.objects.count() == 1 and Delivery.objects.count() == 2
    with pytest.raises(CommandError, match="no delivery"):
        run("replay_delivery", "--id", "999")


def test_sweep_prints_its_counts():
    assert json.loads(run("sweep")) == {"redispatched": 0, "failed": 0, "photos_deleted": 0}


def test_x_webhook_registers_lists_subscribes_and_checks_through_x(fake_x):
    created = json.loads(run("x_webhook", "register", "https://bot.example.com/webhooks/x/"))
    webhook_id = created["id"]
    listed = json.loads(run("x_webhook", "list"))
    assert [(w["url"], w["valid"]) for w in listed] == [("https://bot.example.com/webhooks/x/", True)]
    assert "subscribed" in run("x_webhook", "subscribe", webhook_id)
    assert json.loads(run("x_webhook", "check", webhook_id)) == {"webhook": webhook_id, "subscribed": True}
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("oauth1", "bearer"))


def test_x_webhook_takes_the_apps_only_webhook_when_no_id_is_given(fake_x):
    webhook_id = json.loads(run("x_webhook", "register", "https://bot.example.com/webhooks/x/"))["id"]

    assert webhook_id in run("x_webhook", "validate")
    assert "subscribed" in run("x_webhook", "subscribe")
    assert json.loads(run("x_webhook", "check")) == {"webhook": webhook_id, "subscribed": True}
    assert "unsubscribed" in run("x_webhook", "unsubscribe")
    assert json.loads(run("x_webhook", "check")) == {"webhook": webhook_id, "subscribed": False}
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("oauth1", "bearer"))


def test_x_webhook_asks_which_when_the_app_has_several(fake_x):
    run("x_webhook", "register", "https://bot.example.com/webhooks/x/")
    run("x_webhook", "register", "https://other.example.com/webhooks/x/")

    with pytest.raises(CommandError, match="has 2 webhooks: say which"):
        run("x_webhook", "check")


def test_x_webhook_says_what_x_refused_in_plain_words(fake_x):
    fake_x.crc_fails = True
    with pytest.raises(CommandError, match=r"X refused to register the webhook: X sent its CRC check .*CrcValidationFailed"):
        run("x_webhook", "register", "https://bot.example.com/webhooks/x/")


def test_x_webhook_does_not_say_x_refused_when_nothing_was_sent(fake_x, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")
    with pytest.raises(CommandError, match=r"^nothing was sent to X: registering a webhook needs X_BEARER_TOKEN") as caught:
        run("x_webhook", "register", "https://bot.example.com/webhooks/x/")
    assert "refused" not in str(caught.value)
    with pytest.raises(CommandError, match="type the webhook's URL or set X_WEBHOOK_URL"):
        run("x_webhook", "register")
    assert fake_x.requests == []


def test_local_admin_creates_one_admin_that_can_log_in(client):
    first = run("local_admin", "--url", "http://127.0.0.1:9000/admin/")
    password = first.split(" as admin / ")[1].split()[0]
    assert "http://127.0.0.1:9000/admin/" in first
    assert client.login(username="admin", password=password)
    assert "Created" not in run("local_admin")  # once only


# --- X Activity, replay, reconcile, opt-outs (thin wrappers over their services) ------------


def test_x_activity_subscribes_as_the_delivery_format_says_lists_and_deletes(fake_x, monkeypatch):
    fake_x.webhooks["1800000000000000001"] = {"id": "1800000000000000001", "url": "https://bot.example/webhooks/x/", "valid": True}
    monkeypatch.setenv("IMAGEBOT_X_DELIVERY_FORMAT", "both")

    result = json.loads(run("x_activity", "subscribe", "1800000000000000001"))

    assert [s["event_type"] for s in result["activity"]] == ["post.mention.create", "post.reply.create", "post.quote.create"]
    assert result["account_activity"] == "bot account subscribed"
    assert fake_x.subscriptions == {("1800000000000000001", payloads.BOT_ID)}
    assert len(json.loads(run("x_activity", "list"))) == 3
    assert len(json.loads(run("x_activity", "delete", "--all"))) == 3 and fake_x.activity_subscriptions == {}
    assert_x_saw_only_valid_requests(fake_x, auth_kinds=("oauth1", "bearer"))


def test_x_replay_asks_for_the_last_hours_of_the_registered_webhook(fake_x, monkeypatch):
    fake_x.webhooks["1800000000000000001"] = {"id": "1800000000000000001", "url": "https://bot.example/webhooks/x/", "valid": True}
    monkeypatch.setenv("X_WEBHOOK_URL", "https://bot.example/webhooks/x/")

    output = run("x_replay", "--hours", "3")

    (job,) = fake_x.replay_jobs
    assert job["webhook_id"] == "1800000000000000001" and f"replay {job['job_id']} asked for" in output
    with pytest.raises(CommandError, match="already running"):
        run("x_replay", "--hours", "1")
    with pytest.raises(CommandError, match="--hours or --from"):
        run("x_replay")


def test_reconcile_prints_what_it_read(fake_x):
    fake_x.add_post(payloads.v2_post(photos=0), username="ana")
    assert "first run: cursor set" in run("reconcile")
    fake_x.add_post(payloads.v2_post(photos=0), username="ana")
    assert run("reconcile").startswith("1 posts read (billed by X), 1 recorded")


def test_optout_adds_lists_and_removes():
    run("optout", "add", "1500000000000000077", "--username", "zed")
    assert json.loads(run("optout", "list"))[0]["author_username"] == "zed"
    assert "forgotten" in run("optout", "remove", "1500000000000000077")
    assert json.loads(run("optout", "list")) == []
