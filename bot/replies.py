"""Reply texts: which reply a tweet gets, rendered from templates/bot/replies/.

Rules every reply keeps:
- only the author is mentioned, and only when the username is a valid X handle;
- a label never becomes a mention, hashtag, cashtag or link (its markers are removed);
- the text never weighs more than 280 as X counts it (emoji and CJK count double):
  the least confident labels are left out until it fits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from django.template.loader import render_to_string
from twitter_text import extract_urls, parse_tweet

from bot.recognition import DetectedLabel

MAX_WEIGHTED_LENGTH = 280

# One label never takes more than this many characters (Rekognition's names are far
# shorter); with it, a reply always has room for at least one label.
MAX_LABEL_CHARS = 50

# Names that mean "an animal", matched case-insensitively against a label's name and
# its parents, so "Golden Retriever" (parents Dog, Canine, Animal, Mammal, Pet) counts.
# Ambiguous names ("Mouse", "Chicken") are left out; their parents decide.
ANIMAL_LABELS: frozenset[str] = frozenset({
    "Animal", "Mammal", "Bird", "Fish", "Reptile", "Amphibian", "Insect", "Invertebrate",
    "Arachnid", "Sea Life", "Wildlife", "Pet", "Canine", "Feline", "Rodent", "Primate",
    "Dog", "Puppy", "Cat", "Kitten", "Horse", "Pony", "Cattle", "Cow", "Sheep", "Goat", "Pig",
    "Rabbit", "Hamster", "Guinea Pig", "Squirrel", "Deer", "Bear", "Lion", "Tiger", "Leopard",
    "Elephant", "Giraffe", "Zebra", "Monkey", "Wolf", "Fox", "Kangaroo", "Panda", "Koala",
    "Duck", "Goose", "Parrot", "Owl", "Eagle", "Penguin", "Snake", "Lizard", "Turtle", "Frog",
    "Shark", "Whale", "Dolphin", "Butterfly", "Bee", "Spider",
})
_ANIMAL_KEYS = frozenset(name.casefold() for name in ANIMAL_LABELS)

_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")

# Characters that start a mention, hashtag or cashtag on X (ASCII and full-width forms).
_ENTITY_MARKERS = re.compile(r"[@＠#＃$＄]")

# Characters X refuses, and control/surrogate characters that have no place in a label.
_INVALID_CHARACTERS = {"\ufffe", "\ufeff", "\uffff"}


def merge_labels(labels: Iterable[DetectedLabel]) -> list[DetectedLabel]:
    """Labels of several photos as one list: each name once (case-insensitive) at its highest
    confidence, parents and categories of all its occurrences kept; most confident first, then by name."""
    best: dict[str, DetectedLabel] = {}
    parents: dict[str, list[str]] = {}
    categories: dict[str, list[str]] = {}
    for label in labels:
        key = label.name.casefold()
        if key not in best or label.confidence > best[key].confidence:
            best[key] = label
        parents.setdefault(key, []).extend(label.parents)
        categories.setdefault(key, []).extend(label.categories)
    merged = [
        DetectedLabel(
            name=label.name,
            confidence=label.confidence,
            parents=_unique((*label.parents, *parents[key])),
            categories=_unique((*label.categories, *categories[key])),
            moderation=label.moderation,
        )
        for key, label in best.items()
    ]
    return sorted(merged, key=lambda label: (-label.confidence, label.name.casefold(), label.name))


def shows_animal(labels: Iterable[DetectedLabel]) -> bool:
    """Whether any (non-moderation) label, by its name or one of its parents, is an animal."""
    return any(
        name.casefold() in _ANIMAL_KEYS
        for label in labels
        if not label.moderation
        for name in (label.name, *label.parents)
    )


def compose_reply(
    *,
    username: str | None,
    photo_count: int,
    usable_photo_count: int,
    labels: Sequence[DetectedLabel],
    flagged: bool,
    with_confidence: bool = False,
) -> str:
    """The reply to a tweet: photo_count photos were attached, usable_photo_count of them could be
    recognised, `labels` are what was found on them (merged here; moderation labels never shown).

    with_confidence gives each label its confidence ("Dog (99%)"): the other wording used when
    X refuses the plain text as a duplicate of an earlier reply to the same author.
    """
    context = {
        "username": username if username and _USERNAME.fullmatch(username) else None,
        "photo_count": photo_count,
        "usable_photo_count": usable_photo_count,
    }
    if flagged:
        return _render("flagged", context)
    if photo_count <= 0:
        return _render("no_photo", context)
    if usable_photo_count <= 0:
        return _render("unreadable", context)

    found = [label for label in labels if not label.moderation]
    names = _display_names(merge_labels(found), with_confidence=with_confidence)
    if not names:
        return _render("no_labels", context)

    template = "animal" if shows_animal(found) else "no_animal"
    # Fewer labels never make a longer text: find the most that fit.
    low, high = 1, len(names)
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(_render(template, {**context, "labels": names[:middle]})):
            low = middle
        else:
            high = middle - 1
    return _shorten(_render(template, {**context, "labels": names[:low]}))


def weighted_length(text: str) -> int:
    """Length as X counts it."""
    return parse_tweet(text).weightedLength


def _render(name: str, context: dict) -> str:
    text = render_to_string(f"bot/replies/{name}.txt", context)
    return " ".join(text.split())


def _fits(text: str) -> bool:
    return weighted_length(text) <= MAX_WEIGHTED_LENGTH


def _shorten(text: str) -> str:
    """Last resort, reached only if a template alone is too long: cut it to fit."""
    if _fits(text):
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(text[:middle].rstrip() + "…"):
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


def _display_names(labels: Sequence[DetectedLabel], *, with_confidence: bool = False) -> list[str]:
    """Safe, distinct label names in the order given."""
    names: list[str] = []
    seen: set[str] = set()
    for label in labels:
        name = _clean_label(label.name)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(f"{name} ({label.confidence:.0f}%)" if with_confidence else name)
    return names


def _clean_label(name: str) -> str:
    """A label name that X shows as plain text: no mention/hashtag/cashtag markers, no link."""
    text = "".join(
        character
        for character in name
        if character not in _INVALID_CHARACTERS and unicodedata.category(character) not in {"Cc", "Cs"}
    )
    text = _ENTITY_MARKERS.sub("", text)
    text = " ".join(text.split())
    if extract_urls(text):
        text = " ".join(text.replace(".", " ").split())
        if extract_urls(text):
            return ""
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1].rstrip() + "…"
    return text


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
