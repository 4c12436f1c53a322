"""`make try` on a fresh machine: try_mention with the local recogniser, and its exit status."""

from __future__ import annotations

from io import StringIO

import pytest

from bot.management.commands.try_mention import Command
from bot.models import Reply, Tweet
from tests.recognition.conftest import PHOTOS

pytestmark = pytest.mark.django_db(transaction=True)  # real commits: dispatch runs inside the command


def run_from_shell(*args: str) -> tuple[int, str, str]:
    """As `manage.py try_mention ...` from the shell: (exit status, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    command = Command(stdout=out, stderr=err)
    try:
        command.run_from_argv(["manage.py", "try_mention", *args])
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, out.getvalue(), err.getvalue()


def test_it_prints_real_labels_and_the_reply_and_exits_0_without_aws(local_recogniser, tmp_path):
    photo = tmp_path / "chelsea the cat.jpg"  # a path with a space
    photo.write_bytes((PHOTOS / "chelsea-the-cat.jpg").read_bytes())

    status, out, _ = run_from_shell(str(photo), "--username", "ana")

    assert status == 0
    assert "photo 1: recognised: Animal 9" in out and "Cat 9" in out
    assert "reply (dry run (not posted)): Hi @ana. On your image, I can recognise: Animal, Mammal, Feline, Pet, Cat." in out
    assert Tweet.objects.get().reply.status == Reply.Status.DRY_RUN


def test_it_exits_1_when_the_tweet_was_not_answered(fake_aws_env, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)  # Rekognition (the suite's default) without credentials

    status, out, err = run_from_shell(str(PHOTOS / "coffee.jpg"))

    assert status == 1
    assert "failed (AWS credentials are not configured)" in out and "not answered" in err
    assert Tweet.objects.get().status == Tweet.Status.FAILED
