"""The ImageNet hierarchy file and the labels made from class probabilities."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bot import replies
from bot.recognition import imagenet

TABBY, TIGER_CAT, EGYPTIAN_MAU = 281, 282, 285
GOLDEN_RETRIEVER = 207
ESPRESSO = 967


def probabilities(**by_index: float) -> np.ndarray:
    values = np.zeros(1000)
    for index, value in by_index.items():
        values[int(index.lstrip("c"))] = value
    return values


def test_the_hierarchy_covers_all_1000_classes_with_wordnet_ids():
    tree = imagenet.hierarchy()

    assert len(tree.wnids) == 1000 == len(set(tree.wnids))
    assert all(re.fullmatch(r"n\d{8}", wnid) for wnid in tree.wnids)
    assert tree.wnids[0] == "n01440764" and tree.wnids[TABBY] == "n02123045"  # tench, tabby: ImageNet's order
    every_name = {name for names in tree.names_of_class for name in names}
    assert every_name <= set(tree.labels)  # every class and parent has its parents and categories
    assert all(tree.labels[name]["categories"] for name in every_name)


def test_every_dog_breed_is_a_dog_canine_pet_mammal_and_animal():
    tree = imagenet.hierarchy()
    breeds = range(151, 269)  # Chihuahua .. Mexican hairless: the dog breeds of ImageNet-1k

    for index in breeds:
        assert {"Dog", "Canine", "Pet", "Mammal", "Animal"} <= set(tree.names_of_class[index]), tree.names_of_class[index]
    assert "Pet" not in tree.names_of_class[269]  # timber wolf: a canine, not a pet
    assert "Pet" in tree.names_of_class[TABBY] and "Cat" in tree.names_of_class[TABBY]


def test_names_are_rekognition_style_title_case():
    tree = imagenet.hierarchy()

    assert tree.names_of_class[GOLDEN_RETRIEVER][0] == "Golden Retriever"
    assert tree.names_of_class[21][0] == "Kite (Bird of Prey)"  # not the toy
    assert all(name[:1].isupper() for names in tree.names_of_class for name in names)


def test_a_parents_confidence_is_the_sum_of_its_childrens():
    labels = imagenet.labels_from_probabilities(probabilities(c281=0.40, c282=0.35, c285=0.17, c967=0.08), min_confidence=50, max_labels=10)

    by_name = {label.name: label.confidence for label in labels}
    assert by_name["Cat"] == pytest.approx(92.0) and by_name["Animal"] == pytest.approx(92.0)
    assert "Tabby Cat" not in by_name and "Espresso" not in by_name  # below the floor alone
    assert replies.shows_animal(labels)


def test_a_dog_gives_dog_pet_and_animal_labels_the_reply_logic_knows():
    labels = imagenet.labels_from_probabilities(probabilities(c207=0.97), min_confidence=85, max_labels=10)

    assert {"Golden Retriever", "Dog", "Canine", "Pet", "Mammal", "Animal"} == {label.name for label in labels}
    golden = next(label for label in labels if label.name == "Golden Retriever")
    assert {"Dog", "Pet", "Animal"} <= set(golden.parents) and golden.categories == ("Animals and Pets",)


def test_no_label_is_claimed_below_the_floor_nor_above_the_model():
    labels = imagenet.labels_from_probabilities(probabilities(c967=0.8499999), min_confidence=85, max_labels=5)
    assert labels == ()

    (espresso, *_) = imagenet.labels_from_probabilities(probabilities(c967=0.8512345), min_confidence=85, max_labels=1)
    assert espresso.confidence == 85.123  # rounded down


def test_at_most_max_labels_most_confident_first():
    labels = imagenet.labels_from_probabilities(probabilities(c281=0.9), min_confidence=0, max_labels=3)
    assert len(labels) == 3 and [label.confidence for label in labels] == sorted((label.confidence for label in labels), reverse=True)
