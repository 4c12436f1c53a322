"""ImageNet-1k class probabilities as Rekognition-style labels, through imagenet_hierarchy.json.

Each of the 1000 classes has a label name ("Golden Retriever") and parents ("Dog", "Canine",
"Pet", "Mammal", "Animal"); a name's confidence is the sum of the probabilities of every
class that is it or lies below it, so three cat breeds at 40 %, 35 % and 17 % make
"Cat" 92 %. Only names at or above the confidence floor are claimed, most confident first.

ImageNet-1k has limits that no mapping hides: it has no person class (a portrait comes
out as the clothes or objects in it), some names are ambiguous (hence "Kite (Bird of Prey)"),
and a photo of something outside its classes spreads its probability thin, so often
nothing reaches the floor. Parents make the most of what it does know.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from bot.recognition.types import DetectedLabel

HIERARCHY_PATH = Path(__file__).with_name("imagenet_hierarchy.json")
CLASS_COUNT = 1000


class Hierarchy:
    def __init__(self, document: dict) -> None:
        classes = document["classes"]
        if len(classes) != CLASS_COUNT:
            raise ValueError(f"the hierarchy has {len(classes)} classes, not {CLASS_COUNT}")
        self.wnids: tuple[str, ...] = tuple(entry["wnid"] for entry in classes)
        # For each class: the names its probability counts towards (its own, then its parents').
        self.names_of_class: tuple[tuple[str, ...], ...] = tuple(
            tuple(dict.fromkeys([entry["name"], *entry["parents"]])) for entry in classes
        )
        self.labels: dict[str, dict] = document["labels"]


@lru_cache(maxsize=1)
def hierarchy() -> Hierarchy:
    return Hierarchy(json.loads(HIERARCHY_PATH.read_text(encoding="utf-8")))


def labels_from_probabilities(probabilities: Sequence[float], *, min_confidence: float, max_labels: int) -> tuple[DetectedLabel, ...]:
    """At most max_labels labels with confidence (percent) >= min_confidence, most confident first."""
    tree = hierarchy()
    if len(probabilities) != CLASS_COUNT:
        raise ValueError(f"expected {CLASS_COUNT} probabilities, got {len(probabilities)}")
    scores: dict[str, float] = {}
    for names, probability in zip(tree.names_of_class, probabilities, strict=True):
        if probability <= 0:
            continue
        for name in names:
            scores[name] = scores.get(name, 0.0) + float(probability)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    labels: list[DetectedLabel] = []
    for name, score in ranked:
        # Rounded down: a label is never claimed above what the model gave, nor below the floor.
        confidence = math.floor(min(100.0, score * 100.0) * 1000) / 1000
        if confidence < min_confidence or len(labels) >= max_labels:
            break
        entry = tree.labels.get(name, {})
        labels.append(
            DetectedLabel(
                name=name,
                confidence=confidence,
                parents=tuple(entry.get("parents", ())),
                categories=tuple(entry.get("categories", ())),
            )
        )
    return tuple(labels)
