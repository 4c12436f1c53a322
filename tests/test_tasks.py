"""Lambda entry points, reached the way Lambda reaches them: through Zappa's own LambdaHandler.

Each test deploys a stage of zappa_settings.json in-process: Zappa's CLI writes the
zappa_settings module it would put in the package (offline, no credentials loaded),
LambdaHandler loads it as on a cold start, with the remote env file served by a botocore
Stubber, and events go in through zappa.handler.lambda_handler. Nothing reaches AWS.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import re
import time
import types
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from django.core import signals
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from zappa import handler as zappa_handler
from zappa.cli import ZappaCLI
from zappa.utilities import parse_s3_url

from bot import dispatch, services
from bot.events import samples
from bot.models import Delivery, Reply, Tweet
from bot.signatures import crc_response_token
from tests.fixtures.aws_lambda import (
    ACCOUNT,
    API_HOST,
    REGION,
    ZAPPA_SETTINGS,
    api_gateway_event,
    cold_start,
    invoke,
    settings_module,
    zappa_cli,
)
from tests.fixtures.pipeline import NO_PHOTO_REPLY
from tests.fixtures.s3 import s3_record
from tests.fixtures.webhook import encode, sign

# The entry points tidy database connections before and after, as Django does around a request.
pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("dev", "production")
REMOTE_ENV = {"DJANGO_SECRET_KEY": "from-the-remote-env-file", "IMAGEBOT_DISPATCH": "inline"}
# Operator-held values: they come from remote_env or the function's own environment, never the settings file.
SECRETS = (
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "X_CONSUMER_KEY",
    "X_CONSUMER_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
    "X_BEARER_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


@pytest.fixture
def tasks(fake_aws_env, monkeypatch):
    """bot.tasks, imported only once AWS is faked: zappa.asynchronous builds boto3 clients at import."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return importlib.import_module("bot.tasks")


@pytest.fixture
def photo_recognise_stored(monkeypatch):
    fake = mock.create_autospec(services.photo_recognise_stored, return_value=True)
    monkeypatch.setattr(services, "photo_recognise_stored", fake)
    return fake


@pytest.fixture
def job_runs(monkeypatch):
    """bot.dispatch.run_job replaced, so a test sees which job an invocation ran."""
    fake = mock.create_autospec(dispatch.run_job)
    monkeypatch.setattr(dispatch, "run_job", fake)
    return fake


@pytest.fixture
def lambda_client(tasks, monkeypatch):
    """The client Zappa's async tasks invoke through, answering from a Stubber."""
    import zappa.asynchronous

    client = boto3.client("lambda", region_name=REGION)
    monkeypatch.setattr(zappa.asynchronous, "LAMBDA_CLIENT", client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


class _Session:
    """A boto3 session whose S3 resource is the stubbed one (LambdaHandler only asks it for S3)."""

    def __init__(self, s3):
        self._s3 = s3

    def resource(self, name):
        assert name == "s3"
        return self._s3


@dataclass
class Deployed:
    cli: ZappaCLI
    settings: types.ModuleType

    @property
    def lambda_name(self) -> str:
        return self.cli.lambda_name

    def deliver(self, event: dict):
        return invoke(event, self.lambda_name)

    def request(self, method: str, path: str, **options) -> dict:
        """An HTTP request through API Gateway to this stage; the answer as API Gateway gets it.

        As Django's test client does, the request does not close the test's database
        connection: it holds the test's transaction, which a real invocation would not.
        """
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            return self.deliver(api_gateway_event(method, path, stage=self.cli.api_stage, **options))
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)

    def event_config(self, function: str) -> dict:
        return next(event for event in self.cli.stage_config["events"] if event["function"] == function)

    @property
    def photo_bucket(self) -> str:
        arn = self.event_config("bot.tasks.s3_photo_created")["event_source"]["arn"]
        return arn.split(":::")[-1]


@pytest.fixture
def deploy(tasks, monkeypatch, tmp_path, settings):
    """deploy(stage) -> Deployed: a cold start of that stage's Lambda. Everything it changed is put back."""
    environ, root_level, handler_level = os.environ.copy(), logging.getLogger().level, zappa_handler.logger.level
    monkeypatch.chdir(tmp_path)  # Zappa's CLI walks the working directory looking for websocket handlers
    stubbers = []

    def deploy(stage: str = "dev") -> Deployed:
        cli = zappa_cli(stage)
        zappa_settings = settings_module(cli)
        s3 = boto3.Session(region_name=REGION).resource("s3")
        stubber = Stubber(s3.meta.client)
        body = json.dumps(REMOTE_ENV).encode()
        bucket, key = parse_s3_url(zappa_settings.REMOTE_ENV)
        stubber.add_response("get_object", {"Body": StreamingBody(io.BytesIO(body), len(body))}, {"Bucket": bucket, "Key": key})
        stubbers.append(stubber)
        with stubber:
            cold_start(monkeypatch, zappa_settings, session=_Session(s3))
        stubber.assert_no_pending_responses()
        # Django's settings were read when the test run started: take the hosts the stage sets.
        settings.ALLOWED_HOSTS = os.environ["DJANGO_ALLOWED_HOSTS"].split(",")
        return Deployed(cli=cli, settings=zappa_settings)

    yield deploy
    os.environ.clear()
    os.environ.update(environ)
    logging.getLogger().setLevel(root_level)
    zappa_handler.logger.setLevel(handler_level)


def s3_event(deployed: Deployed, *keys: str, bucket: str | None = None) -> dict:
    """S3's notification for these keys (as on the wire, URL-encoded); Zappa names it after the function."""
    bucket = bucket or deployed.photo_bucket
    return {"Records": [s3_record(bucket, key, configuration_id=deployed.lambda_name) for key in keys]}


def scheduled_event(deployed: Deployed, function: str) -> dict:
    """What EventBridge delivers through the input transformer Zappa puts on its rules."""
    rule = deployed.cli.zappa.get_scheduled_event_name(deployed.event_config(function), function, deployed.lambda_name)
    return {
        "time": "2026-11-26T15:05:00Z",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "region": REGION,
        "detail": {},
        "version": "0",
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "kwargs": {},
    }


def task_message(task_path: str, *args) -> dict:
    """The payload zappa.asynchronous.LambdaAsyncResponse sends."""
    return {
        "task_path": task_path,
        "capture_response": False,
        "response_id": None,
        "args": list(args),
        "kwargs": {},
        "command": "zappa.asynchronous.route_lambda_task",
    }


# --- S3 ObjectCreated ---------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_a_stored_photo_event_reaches_photo_recognise_stored_with_its_key(deploy, photo_recognise_stored, stage):
    deployed = deploy(stage)

    result = deployed.deliver(s3_event(deployed, "photos/1600000000000000001/0.jpg"))

    photo_recognise_stored.assert_called_once_with("photos/1600000000000000001/0.jpg")
    assert result == {"recognised": 1, "unchanged": 0, "ignored": 0, "failed": 0}


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("photos/1600000000000000001/my+photo%2B1.jpg", "photos/1600000000000000001/my photo+1.jpg"),
        ("photos/1600000000000000001/caf%C3%A9%3D1.png", "photos/1600000000000000001/café=1.png"),
    ],
)
def test_it_decodes_the_key_as_s3_encodes_it(deploy, photo_recognise_stored, sent, stored):
    deployed = deploy()

    deployed.deliver(s3_event(deployed, sent))

    photo_recognise_stored.assert_called_once_with(stored)


def test_keys_outside_photos_never_reach_the_service(deploy, photo_recognise_stored, caplog):
    deployed = deploy()
    caplog.set_level(logging.INFO, logger="bot.tasks")

    result = deployed.deliver(s3_event(deployed, "exports/2026-11-26.csv", "photosets/1.jpg"))

    photo_recognise_stored.assert_not_called()
    assert result == {"recognised": 0, "unchanged": 0, "ignored": 2, "failed": 0}
    ignored = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.INFO and record.getMessage().startswith("S3 event for")
    ]
    assert len(ignored) == 2 and "exports/2026-11-26.csv" in ignored[0] and "ignored" in ignored[0]


def test_one_failing_record_does_not_stop_the_others(deploy, photo_recognise_stored, caplog):
    deployed = deploy()
    photo_recognise_stored.side_effect = [RuntimeError("database went away"), False]

    result = deployed.deliver(s3_event(deployed, "photos/1600000000000000001/0.jpg", "photos/1600000000000000002/0.jpg"))

    assert photo_recognise_stored.call_args_list == [
        mock.call("photos/1600000000000000001/0.jpg"),
        mock.call("photos/1600000000000000002/0.jpg"),
    ]
    assert result == {"recognised": 0, "unchanged": 1, "ignored": 0, "failed": 1}
    [failure] = [record for record in caplog.records if record.levelno == logging.ERROR and record.name == "bot.tasks"]
    assert "photos/1600000000000000001/0.jpg" in failure.getMessage() and failure.exc_info


def test_a_record_naming_another_bucket_is_ignored(deploy, photo_recognise_stored):
    deployed = deploy()
    event = s3_event(deployed, "photos/1600000000000000001/0.jpg")
    event["Records"] += s3_event(deployed, "photos/1600000000000000002/0.jpg", bucket="someone-elses-bucket")["Records"]

    result = deployed.deliver(event)

    photo_recognise_stored.assert_called_once_with("photos/1600000000000000001/0.jpg")
    assert result["ignored"] == 1


def test_an_event_for_a_key_no_photo_has_changes_nothing(deploy):
    """The real service, through the real handler: a stray or late event is a no-op, not an error."""
    deployed = deploy()

    result = deployed.deliver(s3_event(deployed, "photos/1600000000000000009/0.jpg"))

    assert result == {"recognised": 0, "unchanged": 1, "ignored": 0, "failed": 0}


# --- Schedule -----------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_the_schedule_reaches_the_sweeper(deploy, monkeypatch, stage):
    deployed = deploy(stage)
    sweep = mock.create_autospec(services.sweep, return_value={"redispatched": 2, "failed": 1})
    monkeypatch.setattr(services, "sweep", sweep)

    result = deployed.deliver(scheduled_event(deployed, "bot.tasks.sweep"))

    sweep.assert_called_once_with()
    assert result == {"redispatched": 2, "failed": 1}


@pytest.mark.parametrize("stage", STAGES)
def test_the_schedule_reaches_the_reconcile(deploy, monkeypatch, stage):
    deployed = deploy(stage)
    reconcile = mock.create_autospec(
        services.mentions_reconcile, return_value=services.ReconcileResult(posts_read=7, recorded=2, pages=1, complete=True)
    )
    monkeypatch.setattr(services, "mentions_reconcile", reconcile)

    result = deployed.deliver(scheduled_event(deployed, "bot.tasks.reconcile"))

    reconcile.assert_called_once_with()
    assert result == {"posts_read": 7, "recorded": 2, "complete": True}


@pytest.mark.parametrize("stage", STAGES)
def test_the_schedule_watches_the_webhook(deploy, monkeypatch, stage):
    from bot.services import webhooks

    deployed = deploy(stage)
    watch = mock.create_autospec(webhooks.webhooks_watch, return_value=[])
    monkeypatch.setattr(webhooks, "webhooks_watch", watch)

    result = deployed.deliver(scheduled_event(deployed, "bot.tasks.webhook_check"))

    watch.assert_called_once_with()
    assert result == {"webhooks": 0, "invalid": 0}


def test_a_warm_lambda_drops_an_obsolete_database_connection_before_the_work(deploy, monkeypatch, transactional_db):
    deployed = deploy()
    database = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not the proxy: patched and put back as it was
    database.ensure_connection()
    monkeypatch.setattr(database, "close_at", time.monotonic() - 1)  # CONN_MAX_AGE passed since the last invocation
    closed = []
    close = database.close
    monkeypatch.setattr(database, "close", lambda: closed.append("closed") or close())  # sqlite's in-memory test db never really closes
    seen_by_sweep = []
    sweep = mock.create_autospec(services.sweep, side_effect=lambda: seen_by_sweep.append(list(closed)) or {})
    monkeypatch.setattr(services, "sweep", sweep)

    deployed.deliver(scheduled_event(deployed, "bot.tasks.sweep"))

    assert seen_by_sweep == [["closed"]]


# --- Async tasks ----------------------------------------------------------------------


def test_an_async_task_message_runs_the_job(deploy, job_runs):
    deployed = deploy()

    deployed.deliver(task_message("bot.tasks.run_job", "tweet_process", 42))

    job_runs.assert_called_once_with("tweet_process", 42)


def test_an_async_task_message_cannot_run_an_unknown_job(deploy):
    deployed = deploy()

    with pytest.raises(ValueError, match="unknown job"):
        deployed.deliver(task_message("bot.tasks.run_job", "os.system", 42))


def test_on_lambda_run_job_is_sent_as_an_async_invocation_that_comes_back_as_the_job(deploy, tasks, lambda_client, job_runs, monkeypatch):
    deployed = deploy()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", deployed.lambda_name)
    payloads = []
    lambda_client.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": deployed.lambda_name, "InvocationType": "Event", "Payload": _Captured(payloads)},
    )

    sent = tasks.run_job("tweet_process", 42)

    assert sent.sent and not job_runs.called
    deployed.deliver(json.loads(payloads[0]))
    job_runs.assert_called_once_with("tweet_process", 42)


def test_dispatch_in_lambda_mode_sends_the_invocation_that_runs_the_job(deploy, lambda_client, job_runs, monkeypatch):
    deployed = deploy()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", deployed.lambda_name)
    monkeypatch.setenv("IMAGEBOT_DISPATCH", "lambda")
    payloads = []
    lambda_client.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": deployed.lambda_name, "InvocationType": "Event", "Payload": _Captured(payloads)},
    )

    dispatch.dispatch(services.tweet_process, 42)

    assert json.loads(payloads[0]) == task_message("bot.tasks.run_job", "tweet_process", 42)
    deployed.deliver(json.loads(payloads[0]))
    job_runs.assert_called_once_with("tweet_process", 42)


def test_off_lambda_run_job_runs_at_once(tasks, lambda_client, job_runs, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)

    result = tasks.run_job("tweet_process", 42)  # an invoke would find no stubbed answer and raise

    assert result is None
    job_runs.assert_called_once_with("tweet_process", 42)


class _Captured:
    """An expected Stubber parameter that accepts anything and keeps it."""

    def __init__(self, into: list):
        self.into = into

    def __eq__(self, other):
        self.into.append(other)
        return True


# --- The cold start and the settings file ----------------------------------------------


def test_a_cold_start_takes_secrets_from_the_remote_env_and_the_rest_from_the_settings_file(deploy):
    deployed = deploy("production")

    assert os.environ["DJANGO_SECRET_KEY"] == REMOTE_ENV["DJANGO_SECRET_KEY"]
    # Zappa applies environment_variables after the remote file: the settings file wins.
    assert os.environ["IMAGEBOT_DISPATCH"] == "lambda"
    assert os.environ["AWS_STORAGE_BUCKET_NAME"] == deployed.photo_bucket


@pytest.mark.parametrize("stage", STAGES)
def test_the_settings_file_routes_events_only_to_entry_points_in_bot_tasks(tasks, fake_aws_env, monkeypatch, tmp_path, stage):
    monkeypatch.chdir(tmp_path)
    config = zappa_cli(stage).stage_config

    assert config["django_settings"] == "imagebot_site.settings" and config["runtime"] == "python3.11"
    assert config["keep_warm"] is False and not config["slim_handler"]
    functions = {event["function"]: event for event in config["events"]}
    assert set(functions) == {"bot.tasks.s3_photo_created", "bot.tasks.sweep", "bot.tasks.reconcile", "bot.tasks.webhook_check"}
    for path in functions:
        module, name = path.rsplit(".", 1)
        assert module == "bot.tasks" and callable(getattr(tasks, name))
        assert "-" not in path  # Zappa reads a scheduled function back from the rule name's last "-" part

    source = functions["bot.tasks.s3_photo_created"]["event_source"]
    assert source["arn"] == f"arn:aws:s3:::{config['environment_variables']['AWS_STORAGE_BUCKET_NAME']}"
    assert source["events"] == ["s3:ObjectCreated:*"] and source["prefix"] == tasks.PHOTO_PREFIX
    assert functions["bot.tasks.sweep"]["expression"] == "rate(5 minutes)"
    assert functions["bot.tasks.reconcile"]["expression"] == "rate(15 minutes)"
    assert functions["bot.tasks.webhook_check"]["expression"] == "rate(1 hour)"


@pytest.mark.parametrize("stage", STAGES)
def test_the_settings_file_holds_no_secrets(stage):
    config = json.loads(ZAPPA_SETTINGS.read_text())[stage]
    merged = {**json.loads(ZAPPA_SETTINGS.read_text()).get(config.get("extends", ""), {}), **config}

    variables = merged["environment_variables"]
    assert not set(variables) & set(SECRETS)
    assert all(isinstance(value, str) for value in variables.values())  # Zappa refuses anything else
    assert merged["remote_env"].startswith("s3://")
    assert variables["DJANGO_DEBUG"] == "false" and variables["IMAGEBOT_DISPATCH"] == "lambda" and variables["IMAGEBOT_S3_EVENTS"] == "true"


# --- HTTP through API Gateway -----------------------------------------------------------


def answer_json(answer: dict) -> dict:
    return json.loads(answer["body"])


def test_the_crc_get_is_answered_through_api_gateway(deploy, consumer_secret):
    deployed = deploy("production")

    answer = deployed.request("GET", "/webhooks/x/", query={"crc_token": "challenge-1"})

    assert answer["statusCode"] == 200
    assert answer_json(answer) == {"response_token": crc_response_token(consumer_secret, "challenge-1")}


def test_a_forged_post_is_refused_without_a_trace(deploy, consumer_secret):
    deployed = deploy()
    body = encode(samples.delivery(samples.tweet(photos=0)))

    answer = deployed.request(
        "POST",
        "/webhooks/x/",
        body=body,
        headers={"Content-Type": "application/json", "X-Twitter-Webhooks-Signature": sign(body, "forged")},
    )

    assert answer["statusCode"] == 403
    assert "Traceback" not in answer["body"] and consumer_secret not in answer["body"]
    assert not Delivery.objects.exists()


def test_a_signed_post_ends_in_a_dry_run_reply_through_an_async_invocation(
    deploy, consumer_secret, lambda_client, monkeypatch, django_capture_on_commit_callbacks
):
    deployed = deploy()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", deployed.lambda_name)  # set by the Lambda runtime
    monkeypatch.delenv("X_ACCESS_TOKEN", raising=False)  # no access token: replies are dry runs
    payloads: list = []
    lambda_client.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": deployed.lambda_name, "InvocationType": "Event", "Payload": _Captured(payloads)},
    )
    post = samples.tweet(photos=0)
    body = encode(samples.delivery(post))

    with django_capture_on_commit_callbacks(execute=True):
        answer = deployed.request(
            "POST", "/webhooks/x/", body=body, headers={"Content-Type": "application/json", "X-Twitter-Webhooks-Signature": sign(body)}
        )

    assert answer["statusCode"] == 200
    [payload] = payloads
    tweet = Tweet.objects.get(x_id=post["id_str"])
    assert json.loads(payload) == task_message("bot.tasks.run_job", "tweet_process", tweet.pk)
    assert not Reply.objects.exists()  # nothing ran inside the request

    deployed.deliver(json.loads(payload))

    reply = Reply.objects.get(tweet=tweet)
    assert reply.status == Reply.Status.DRY_RUN and reply.text == NO_PHOTO_REPLY
    tweet.refresh_from_db()
    assert tweet.status == Tweet.Status.DONE


def test_the_admin_is_served_with_its_static_files(deploy, settings, tmp_path):
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path / "staticfiles"  # what `make package` collects into the package
    call_command("collectstatic", interactive=False, verbosity=0)
    deployed = deploy()  # WhiteNoise lists STATIC_ROOT on the first request for a static file

    page = deployed.request("GET", "/admin/login/")
    [stylesheet_url] = re.findall(r'<link rel="stylesheet" href="([^"]*/admin/css/base\.css)"', page["body"])
    # API Gateway's own host puts the stage first in the path; the function sees the path after it.
    stylesheet = deployed.request("GET", stylesheet_url.removeprefix(f"/{deployed.cli.api_stage}"))

    assert page["statusCode"] == 200
    assert stylesheet["statusCode"] == 200 and "body" in stylesheet["body"]
    assert stylesheet["multiValueHeaders"]["Content-Type"][0].startswith("text/css")


# --- What the settings file may not hold ---------------------------------------------------


def settings_file_problems(config: dict) -> list[str]:
    """Why a stage's merged configuration must not be deployed: one line per problem."""
    problems = []
    variables = config.get("environment_variables", {})
    problems += [f"{name} is a secret: it belongs in remote_env or the function's environment" for name in set(variables) & set(SECRETS)]
    if config.get("debug") is not False:
        problems.append("debug must be false: Zappa's debug shows tracebacks to anyone")
    if "key_filters" in json.dumps(config):
        problems.append("key_filters: Zappa 0.63 ignores them; use prefix")
    buckets = [
        event["event_source"]["arn"]
        for event in config.get("events", [])
        if event.get("event_source", {}).get("arn", "").startswith("arn:aws:s3:::")
    ]
    problems += [
        f"{arn} has {buckets.count(arn)} S3 event sources: each overwrites the last"
        for arn in sorted(set(buckets))
        if buckets.count(arn) > 1
    ]
    return problems


@pytest.mark.parametrize("stage", STAGES)
def test_the_settings_file_is_fit_for_lambda(fake_aws_env, monkeypatch, tmp_path, stage):
    monkeypatch.chdir(tmp_path)
    config = zappa_cli(stage).stage_config  # merged as Zappa merges "extends"

    assert settings_file_problems(config) == []
    assert config["log_level"] == "INFO" and config["runtime"] == "python3.11"
    hosts = config["environment_variables"]["DJANGO_ALLOWED_HOSTS"].split(",")
    assert f".execute-api.{config['aws_region']}.amazonaws.com" in hosts and config["domain"] in hosts
    assert API_HOST.endswith(hosts[0])


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"environment_variables": {"X_CONSUMER_SECRET": "s"}}, "X_CONSUMER_SECRET is a secret"),
        ({"debug": True}, "debug must be false"),
        ({"events": [{"function": "f", "event_source": {"arn": "arn:aws:s3:::b", "key_filters": []}}]}, "key_filters"),
        (
            {"events": [{"function": f, "event_source": {"arn": "arn:aws:s3:::b", "events": ["s3:ObjectCreated:*"]}} for f in ("f", "g")]},
            "arn:aws:s3:::b has 2 S3 event sources",
        ),
    ],
)
def test_the_settings_file_guard_refuses(change, problem):
    config = {**json.loads(ZAPPA_SETTINGS.read_text())["dev"], **change}

    assert any(line.startswith(problem) for line in settings_file_problems(config))


# --- The package ------------------------------------------------------------------------


def surviving(names: list[str], under: str, patterns: list[str], tmp_path: Path) -> set[str]:
    """What of a folder holding `names` is left once Zappa applies exclude_glob to the package."""
    folder = tmp_path / under
    for name in names:
        (folder / name).mkdir(parents=True)
    for pattern in patterns:
        for path in tmp_path.glob(pattern):
            if path.exists():
                path.rmdir()
    return {path.name for path in folder.iterdir()}


def test_the_package_keeps_the_aws_models_the_function_uses_and_no_other(tmp_path):
    import botocore

    patterns = json.loads(ZAPPA_SETTINGS.read_text())["dev"]["exclude_glob"]
    installed = sorted(path.name for path in (Path(botocore.__file__).parent / "data").iterdir())

    kept = surviving(installed, "botocore/data", patterns, tmp_path)

    # s3, rekognition: ours; lambda, sns, sts, dynamodb: clients zappa.asynchronous builds at import
    assert kept == {"s3", "rekognition", "lambda", "sns", "sts", "dynamodb"} | {
        "_retry.json",
        "endpoints.json",
        "partitions.json",
        "sdk-default-configuration.json",
    }


def test_the_package_keeps_english_translations_only(tmp_path):
    import django

    patterns = json.loads(ZAPPA_SETTINGS.read_text())["dev"]["exclude_glob"]
    installed = sorted(path.name for path in (Path(django.__file__).parent / "conf" / "locale").iterdir())

    assert surviving(installed, "django/conf/locale", patterns, tmp_path) == {"en", "__init__.py", "__pycache__"} & set(installed) | {"en"}


def test_the_package_keeps_the_pillow_libraries_the_accepted_formats_need(tmp_path):
    import PIL

    patterns = json.loads(ZAPPA_SETTINGS.read_text())["dev"]["exclude_glob"]
    installed = sorted(path.name for path in (Path(PIL.__file__).parent.parent / "pillow.libs").iterdir())

    kept = {name.split("-")[0] for name in surviving(installed, "pillow.libs", patterns, tmp_path)}

    # _imaging (JPEG, TIFF, JPEG 2000, and X11's libraries it links), _webp, _imagingcms; never
    # AVIF (not an accepted format) or FreeType/HarfBuzz (text drawing). make package decodes
    # every accepted format in the built package (scripts/package_bytecode.py).
    assert kept == {"libjpeg", "libtiff", "libzstd", "liblzma", "libopenjp2", "libxcb", "libXau"} | {
        "libwebp",
        "libwebpmux",
        "libwebpdemux",
        "libsharpyuv",
        "liblcms2",
    }
    assert {"_avif", "_imagingft"}.isdisjoint(
        name.split(".")[0] for name in surviving(["_avif.so", "_imagingft.so", "_imaging.so", "_webp.so"], "PIL", patterns, tmp_path)
    )


def test_the_package_leaves_out_what_only_the_cli_and_the_tests_import(tmp_path):
    patterns = json.loads(ZAPPA_SETTINGS.read_text())["dev"]["exclude_glob"]
    unused = ["jsonschema", "jsonschema_specifications", "referencing", "rpds", "attr", "attrs"]  # spectacular --validate
    used = ["django", "rest_framework", "drf_spectacular", "yaml", "PIL", "botocore", "zappa", "werkzeug", "bot"]

    assert surviving(unused + used, ".", patterns, tmp_path) == set(used)


# --- IAM ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_the_role_policy_allows_what_the_function_does_and_nothing_more(fake_aws_env, monkeypatch, tmp_path, stage):
    monkeypatch.chdir(tmp_path)
    cli = zappa_cli(stage)
    config = cli.stage_config
    bucket = config["environment_variables"]["AWS_STORAGE_BUCKET_NAME"]
    policy = json.loads((ROOT / "docs" / "iam" / f"{cli.lambda_name}-policy.json").read_text())

    assert config["manage_roles"] is False and config["role_name"] == f"{cli.lambda_name}-lambda"
    assert "extra_permissions" not in config  # Zappa ignores them once it does not manage the role
    granted = {
        (action, resource) for statement in policy["Statement"] for action in statement["Action"] for resource in statement["Resource"]
    }
    remote_bucket, remote_key = parse_s3_url(config["remote_env"])
    assert granted == {
        *(
            (f"logs:{action}", f"arn:aws:logs:{REGION}:*:log-group:/aws/lambda/{cli.lambda_name}{tail}")
            for action in ("CreateLogGroup", "CreateLogStream", "PutLogEvents")
            for tail in ("", ":*")
        ),
        *((f"s3:{action}", f"arn:aws:s3:::{bucket}/photos/*") for action in ("GetObject", "PutObject", "DeleteObject")),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
        ("s3:GetObject", f"arn:aws:s3:::{remote_bucket}/{remote_key}"),
        ("rekognition:DetectLabels", "*"),
        ("rekognition:DetectModerationLabels", "*"),
        ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:*:function:{cli.lambda_name}"),
    }
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
    [listing] = [statement for statement in policy["Statement"] if statement["Action"] == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["photos/*"]}}
