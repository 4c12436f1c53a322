import socket

import pytest

from bot import recognition
from bot.recognition import DetectedLabel, Detection, RecognitionError
from tests.fixtures.aws import labels_response, moderation_response, stub_detection

PHOTO = recognition.image_from_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")


def test_it_reads_labels_with_their_parents_and_categories(rekognition_stub):
    stub_detection(
        rekognition_stub,
        labels=labels_response(
            ("Golden Retriever", 98.5, ("Dog", "Canine", "Animal", "Mammal", "Pet")),
            ("Grass", 91.25, ("Plant",), ("Plants and Flowers",)),
        ),
        moderation=moderation_response(("Smoking", 62.0, "Drugs & Tobacco")),
    )

    detection = recognition.detect(PHOTO)

    assert detection.labels == (
        DetectedLabel(
            name="Golden Retriever",
            confidence=98.5,
            parents=("Dog", "Canine", "Animal", "Mammal", "Pet"),
            categories=("Animals and Pets",),
        ),
        DetectedLabel(name="Grass", confidence=91.25, parents=("Plant",), categories=("Plants and Flowers",)),
    )
    assert detection.moderation_labels == (DetectedLabel(name="Smoking", confidence=62.0, parents=("Drugs & Tobacco",), moderation=True),)
    assert not detection.flagged
    rekognition_stub.assert_no_pending_responses()


def test_it_asks_with_the_limits_from_the_environment(rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "3")
    monkeypatch.setenv("IMAGEBOT_MIN_CONFIDENCE", "90")
    stub_detection(
        rekognition_stub,
        labels=labels_response(("Car", 97.0, ("Vehicle", "Transportation"))),
        image=PHOTO,
        max_labels=3,
        min_confidence=90.0,
        moderation_min_confidence=recognition.MODERATION_FLOOR,
    )

    detection = recognition.detect(PHOTO)

    assert [label.name for label in detection.labels] == ["Car"]
    rekognition_stub.assert_no_pending_responses()


def test_it_asks_for_moderation_labels_below_a_lower_flagging_threshold(rekognition_stub, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MODERATION_MIN_CONFIDENCE", "40")
    stub_detection(rekognition_stub, image=PHOTO, moderation_min_confidence=40.0)

    recognition.detect(PHOTO)

    rekognition_stub.assert_no_pending_responses()


def test_it_passes_a_photo_stored_in_s3_by_reference(rekognition_stub):
    image = recognition.image_from_s3("imagebot-photos", "photos/1790000000000000000/0.jpg")
    assert image == {"S3Object": {"Bucket": "imagebot-photos", "Name": "photos/1790000000000000000/0.jpg"}}
    stub_detection(
        rekognition_stub,
        labels=labels_response(("Cat", 99.0, ("Animal", "Mammal", "Pet"))),
        image=image,
        max_labels=5,
        min_confidence=85.0,
    )

    detection = recognition.detect(image)

    assert detection.labels[0].name == "Cat"
    rekognition_stub.assert_no_pending_responses()


def test_it_retries_once_after_throttling(rekognition_stub, recognition_sleeps):
    rekognition_stub.add_client_error("detect_labels", "ThrottlingException", "Rate exceeded", 400)
    stub_detection(rekognition_stub, labels=labels_response(("Dog", 99.0, ("Animal",))))

    detection = recognition.detect(PHOTO)

    assert [label.name for label in detection.labels] == ["Dog"]
    assert len(recognition_sleeps) == 1
    assert 0 < recognition_sleeps[0] <= recognition.BACKOFF_BASE
    rekognition_stub.assert_no_pending_responses()


def test_it_gives_up_as_temporary_when_throttling_outlasts_the_retries(rekognition_stub, recognition_sleeps, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_AWS_MAX_RETRIES", "3")
    for _ in range(4):
        rekognition_stub.add_client_error("detect_labels", "ProvisionedThroughputExceededException", "Slow down", 400)

    with pytest.raises(RecognitionError) as caught:
        recognition.detect(PHOTO)

    assert caught.value.permanent is False
    assert caught.value.code == "ProvisionedThroughputExceededException"
    assert caught.value.reason == ("Rekognition: ProvisionedThroughputExceededException: Slow down (gave up after 4 attempts)")
    # Exponential backoff with jitter: each delay within [ceiling / 2, ceiling].
    assert len(recognition_sleeps) == 3
    for attempt, delay in enumerate(recognition_sleeps):
        ceiling = recognition.BACKOFF_BASE * 2**attempt
        assert ceiling / 2 <= delay <= ceiling
    rekognition_stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["InternalServerError", "ServiceUnavailableException", "LimitExceededException"])
def test_service_errors_are_retried(rekognition_stub, recognition_sleeps, code):
    rekognition_stub.add_client_error("detect_labels", code, "Try later", 500 if "Internal" in code else 400)
    stub_detection(rekognition_stub)

    recognition.detect(PHOTO)

    assert len(recognition_sleeps) == 1
    rekognition_stub.assert_no_pending_responses()


def test_an_unknown_server_error_is_temporary(rekognition_stub, recognition_sleeps, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_AWS_MAX_RETRIES", "0")
    rekognition_stub.add_client_error("detect_labels", "SomethingNew", "Oops", 503)

    with pytest.raises(RecognitionError) as caught:
        recognition.detect(PHOTO)

    assert caught.value.permanent is False
    assert caught.value.reason == "Rekognition: SomethingNew: Oops"
    assert recognition_sleeps == []


@pytest.mark.parametrize(
    "code",
    [
        "InvalidImageFormatException",
        "ImageTooLargeException",
        "InvalidS3ObjectException",
        "InvalidParameterException",
        "AccessDeniedException",
        "ResourceNotFoundException",  # any other client error: asking again will not help
    ],
)
def test_a_bad_photo_or_account_is_a_permanent_failure_without_retry(rekognition_stub, rekognition_calls, recognition_sleeps, code):
    rekognition_stub.add_client_error("detect_labels", code, "Request has invalid image format", 400)

    with pytest.raises(RecognitionError) as caught:
        recognition.detect(PHOTO)

    assert caught.value.permanent is True
    assert caught.value.code == code
    assert caught.value.reason == f"Rekognition: {code}: Request has invalid image format"
    assert len(rekognition_calls.named("DetectLabels")) == 1
    assert recognition_sleeps == []
    rekognition_stub.assert_no_pending_responses()


def test_a_throttled_moderation_call_does_not_repeat_detect_labels(rekognition_stub, rekognition_calls, recognition_sleeps):
    rekognition_stub.add_response("detect_labels", labels_response(("Dog", 99.0, ("Animal",))))
    rekognition_stub.add_client_error("detect_moderation_labels", "ThrottlingException", "Rate exceeded", 400)
    rekognition_stub.add_client_error("detect_moderation_labels", "ThrottlingException", "Rate exceeded", 400)
    rekognition_stub.add_response("detect_moderation_labels", moderation_response())

    detection = recognition.detect(PHOTO)

    assert [label.name for label in detection.labels] == ["Dog"]
    assert len(rekognition_calls.named("DetectLabels")) == 1
    assert len(rekognition_calls.named("DetectModerationLabels")) == 3
    assert len(recognition_sleeps) == 2
    rekognition_stub.assert_no_pending_responses()


@pytest.mark.parametrize(("confidence", "flagged"), [(79.9, False), (80.0, True), (99.0, True)])
def test_a_photo_is_flagged_from_the_moderation_threshold(rekognition_stub, confidence, flagged):
    stub_detection(
        rekognition_stub,
        labels=labels_response(("Person", 99.0)),
        moderation=moderation_response(("Explicit Nudity", confidence), ("Nudity", confidence, "Explicit Nudity")),
    )

    detection = recognition.detect(PHOTO)

    assert detection.flagged is flagged
    assert all(label.moderation for label in detection.moderation_labels)


def test_the_flagging_threshold_is_read_when_used(monkeypatch):
    detection = Detection(labels=(), moderation_labels=(DetectedLabel("Violence", 75.0, moderation=True),))
    assert not detection.flagged

    monkeypatch.setenv("IMAGEBOT_MODERATION_MIN_CONFIDENCE", "75")

    assert detection.flagged


def test_missing_credentials_are_a_permanent_failure_in_plain_words(fake_aws_env, recognition_sleeps, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    with pytest.raises(RecognitionError) as caught:
        recognition.detect(PHOTO)

    assert caught.value.permanent is True
    assert caught.value.reason == "AWS credentials are not configured"
    assert str(caught.value) == "AWS credentials are not configured"
    assert recognition_sleeps == []


def test_an_unreachable_endpoint_is_retried_then_temporary(fake_aws_env, recognition_sleeps, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("IMAGEBOT_AWS_MAX_RETRIES", "2")

    with pytest.raises(RecognitionError) as caught:
        recognition.detect(PHOTO)

    assert caught.value.permanent is False
    assert caught.value.reason.startswith("Rekognition unreachable: Could not connect to the endpoint URL")
    assert caught.value.reason.endswith("(gave up after 3 attempts)")
    assert len(recognition_sleeps) == 2


def test_the_client_reads_region_and_endpoint_when_made_and_leaves_retrying_to_us(fake_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")

    client = recognition.rekognition_client()

    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://localhost:4566"
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (5.0, 30.0)
