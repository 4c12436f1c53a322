"""Try the whole bot without X: a signed mention with a local photo goes through the webhook.

The photo is served from a loopback HTTP server that is allow-listed for this run only,
so the real download, validation, storage and recognition steps run. The reply is a
dry run unless --post is given (which needs X credentials). The recogniser is the
configured one (IMAGEBOT_RECOGNISER: the local models by default off Lambda); with
Rekognition and no AWS credentials the tweet ends failed with a plain reason.

Run from the shell, the exit status says whether the tweet was answered (a reply posted
or, in a dry run, composed): 0 if so, 1 if not.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import os
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client

from bot.checks import settings_problems
from bot.events import samples
from bot.models import Reply, Tweet
from bot.signatures import signature_for

BOT_ID, BOT_NAME, AUTHOR_ID = "1", "imagebot", "2"


class _PhotoHandler(BaseHTTPRequestHandler):
    def __init__(self, *args: Any, photo: bytes, content_type: str, **kwargs: Any) -> None:
        self.photo, self.content_type = photo, content_type
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.photo)))
        self.end_headers()
        self.wfile.write(self.photo)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Command(BaseCommand):
    help = "Feed a realistic signed mention with a local photo through the webhook; print the labels and the reply."
    answered = False

    def run_from_argv(self, argv: list[str]) -> None:
        super().run_from_argv(argv)
        if not self.answered:
            sys.exit(1)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("photo", help="path to an image file")
        parser.add_argument("--text", default=f"@{BOT_NAME} what do you see?", help="the tweet's text")
        parser.add_argument("--username", default="try_user", help="the author's handle")
        parser.add_argument("--post", action="store_true", help="really post the reply (needs X credentials)")

    def handle(self, *args: Any, photo: str, text: str, username: str, post: bool, **options: Any) -> None:
        path = Path(photo)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {photo}: {exc}") from None
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_PhotoHandler, photo=data, content_type=content_type))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        secret = os.environ.get("X_CONSUMER_SECRET") or secrets.token_urlsafe(24)
        try:
            with _environ(
                IMAGEBOT_MEDIA_URL_PREFIXES=base, IMAGEBOT_DISPATCH="inline", X_CONSUMER_SECRET=secret, X_DRY_RUN="0" if post else "1"
            ):
                # Checked with this run's own values too (--post needs X credentials), before anything is sent.
                problems = settings_problems()
                if problems:
                    raise CommandError("a setting is not allowed:\n" + "\n".join(problems))
                tweet_id = str(1_800_000_000_000_000_000 + time.time_ns() // 1000 % 10**15)
                tweet = samples.tweet(
                    text=text,
                    tweet_id=tweet_id,
                    author_id=AUTHOR_ID,
                    author_name=username,
                    urls=[f"{base}photo{path.suffix}"],
                    mention_bot=f"@{BOT_NAME}" in text,
                    created_at=time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime()),
                    bot_id=BOT_ID,
                    bot_name=BOT_NAME,
                )
                body = json.dumps(samples.delivery(tweet, for_user_id=BOT_ID)).encode()
                host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")), "localhost")
                response = Client().post(
                    "/webhooks/x/",
                    body,
                    content_type="application/json",
                    HTTP_HOST=host,
                    HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signature_for(secret, body),
                )
        finally:
            server.shutdown()
        if response.status_code != 200:
            raise CommandError(f"the webhook answered {response.status_code}: {response.content.decode(errors='replace')}")
        recorded = Tweet.objects.get(x_id=tweet_id)
        self._report(recorded)
        if recorded.status in Tweet.PENDING_STATUSES:  # a step broke half-way: the log says why
            reason = f": {recorded.last_error}" if recorded.last_error else ""
            raise CommandError(f"the tweet was left {recorded.status}, not settled{reason}")

    def _report(self, tweet: Tweet) -> None:
        self.stdout.write(f"tweet {tweet.x_id}: {tweet.status}" + (f" ({tweet.last_error})" if tweet.last_error else ""))
        for photo in tweet.photos.prefetch_related("labels"):
            labels = ", ".join(f"{label.name} {label.confidence:.1f}%" for label in photo.labels.all() if not label.is_moderation)
            flagged = " [flagged]" if photo.flagged else ""
            self.stdout.write(
                f"photo {photo.position + 1}: {photo.status}{flagged}"
                + (f": {labels}" if labels else "")
                + (f" ({photo.last_error})" if photo.last_error else "")
            )
        reply = getattr(tweet, "reply", None)
        if reply is not None:
            self.stdout.write(f"reply ({reply.get_status_display()}): {reply.text}" + (f" [X id {reply.x_id}]" if reply.x_id else ""))
        self.answered = reply is not None and reply.status in (Reply.Status.POSTED, Reply.Status.DRY_RUN)
        if not self.answered:
            self.stderr.write("the tweet was not answered")
