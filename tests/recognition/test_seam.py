"""bot.recognition as a seam: IMAGEBOT_RECOGNISER picks the backend; callers never know which."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from bot import conf, recognition
from bot.recognition import local, rekognition


def test_local_is_the_default_off_lambda_and_rekognition_on_lambda(monkeypatch):
    monkeypatch.delenv("IMAGEBOT_RECOGNISER")
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert conf.recogniser() == "local"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "imagebot-production")
    assert conf.recogniser() == "rekognition"
    monkeypatch.setenv("IMAGEBOT_RECOGNISER", "local")  # either can be set anywhere
    assert conf.recogniser() == "local"


def test_an_unknown_recogniser_fails_loudly_naming_the_variable(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_RECOGNISER", "clip")
    with pytest.raises(ImproperlyConfigured, match=r"IMAGEBOT_RECOGNISER=.clip.: must be one of local, rekognition"):
        recognition.detect(recognition.image_from_bytes(b"x"))


@pytest.mark.parametrize("name", ["local", "rekognition"])
def test_detect_goes_to_the_backend_named(monkeypatch, name):
    calls = []
    for module in (local, rekognition):
        monkeypatch.setattr(
            module,
            "detect",
            lambda image, *, with_labels, module=module: calls.append((module.__name__, with_labels)) or recognition.Detection((), ()),
        )
    monkeypatch.setenv("IMAGEBOT_RECOGNISER", name)

    recognition.detect(recognition.image_from_bytes(b"x"), with_labels=False)

    assert calls == [(f"bot.recognition.{name}", False)]


def test_images_keep_rekognitions_shape_and_carry_a_reader_for_the_local_backend():
    image = recognition.image_from_s3("bucket", "photos/1/0.jpg", read=lambda: b"bytes")
    assert image == {"S3Object": {"Bucket": "bucket", "Name": "photos/1/0.jpg"}}
    assert image.read() == b"bytes"
    assert recognition.image_from_bytes(b"data") == {"Bytes": b"data"}
