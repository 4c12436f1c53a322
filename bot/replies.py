"""Reply texts: which reply a tweet gets, rendered from templates/bot/replies/.

Each reply comes in REPLY_VARIANTS wordings (see compose_reply): X refuses a post that
repeats a recent post of the same account, so a refused reply is tried in the next one.

Rules every reply, in every variant, keeps:
- only the author is mentioned, and only when the username is a valid X handle;
- nothing else is a mention, hashtag, cashtag or link: a label keeps only letters, digits,
  spaces and -'&() (every other character becomes a space), so it is plain words whatever
  surrounds it; the caller's reference may hold only those, commas and colons;
- the text never weighs more than 280 as X counts it (emoji and CJK count double):
  the least confident labels are left out until it fits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import regex
from django.template.loader import render_to_string

from bot.recognition import DetectedLabel

MAX_WEIGHTED_LENGTH = 280

# Wordings of one reply: 0 plain, 1 other words, 2 other words and the caller's reference.
REPLY_VARIANTS = 3

# One label never takes more than this many characters (Rekognition's names are far
# shorter); with it, a reply always has room for at least one label.
MAX_LABEL_CHARS = 50

# Names that mean "an animal", matched case-insensitively against a label's name and
# its parents, so "Golden Retriever" (parents Dog, Canine, Animal, Mammal, Pet) counts.
# Ambiguous names ("Mouse", "Chicken") are left out; their parents decide.
# A word list reads best packed; the formatter would give each name a line.
# fmt: off
ANIMAL_LABELS: frozenset[str] = frozenset({
    "Animal", "Mammal", "Bird", "Fish", "Reptile", "Amphibian", "Insect", "Invertebrate",
    "Arachnid", "Sea Life", "Wildlife", "Pet", "Canine", "Feline", "Rodent", "Primate",
    "Dog", "Puppy", "Cat", "Kitten", "Horse", "Pony", "Cattle", "Cow", "Sheep", "Goat", "Pig",
    "Rabbit", "Hamster", "Guinea Pig", "Squirrel", "Deer", "Bear", "Lion", "Tiger", "Leopard",
    "Elephant", "Giraffe", "Zebra", "Monkey", "Wolf", "Fox", "Kangaroo", "Panda", "Koala",
    "Duck", "Goose", "Parrot", "Owl", "Eagle", "Penguin", "Snake", "Lizard", "Turtle", "Frog",
    "Shark", "Whale", "Dolphin", "Butterfly", "Bee", "Spider",
})
# fmt: on
_ANIMAL_KEYS = frozenset(name.casefold() for name in ANIMAL_LABELS)

_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")

# Besides letters and digits, the characters a label keeps. Rekognition's names are plain
# words; none of these starts a mention, hashtag or cashtag, and without a dot there is no link.
_LABEL_PUNCTUATION = " -'&()"

# Code points that render as nothing (Unicode's Default_Ignorable_Code_Point property):
# among letters, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0.
_INVISIBLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")

# The reference ("about your post 1868…", or "about your post of 26 Nov, 10:15:30 UTC") may also hold these.
_REFERENCE_PUNCTUATION = _LABEL_PUNCTUATION + ",:"


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
    return any(name.casefold() in _ANIMAL_KEYS for label in labels if not label.moderation for name in (label.name, *label.parents))


def compose_reply(
    *,
    username: str | None,
    photo_count: int,
    usable_photo_count: int,
    labels: Sequence[DetectedLabel],
    flagged: bool,
    variant: int = 0,
    reference: str = "",
    photos_in: str = "",
    photos_by: str = "",
) -> str:
    """The reply to a tweet: photo_count photos were attached, usable_photo_count of them could be
    recognised, `labels` are what was found on them (merged here; moderation labels never shown).

    variant (0 to REPLY_VARIANTS - 1) picks the wording, for when X refuses the previous one as a
    duplicate of an earlier post:
    0: the plain text;
    1: other words: each label with its confidence, floored ("Dog (99%)"), or, for a reply
       without labels, another sentence;
    2: variant 1 followed by "This reply is {reference}." (bot.services.replying gives "about
       your post 1868…", the tweet's id: unique, so X never calls it a duplicate of another
       answer), or by a fixed sentence when reference is empty.
    The variants of one reply always differ from each other.

    photos_in ("quoted" or "replied_to"): the photos are those of the post the tweet quotes or
    replies to, whose author `photos_by` is named in plain words, without an @ (never a mention,
    and left out unless it is a valid X handle).

    ValueError for a variant out of range, or a reference holding anything but letters, digits,
    whitespace and -'&(),: (checked whatever the variant, so a bad one shows up at once).
    """
    if variant not in range(REPLY_VARIANTS):
        raise ValueError(f"variant must be in range({REPLY_VARIANTS}), not {variant!r}")
    reference = " ".join(reference.split())
    if not all(_visible_alnum(character) or character in _REFERENCE_PUNCTUATION for character in reference):
        raise ValueError(f"reference must be plain words, not {reference!r}")
    context = {
        "username": username if username and _USERNAME.fullmatch(username) else None,
        "photo_count": photo_count,
        "usable_photo_count": usable_photo_count,
        "variant": variant,
        "reference": reference,
        "photos_in": photos_in if photos_in in ("quoted", "replied_to") else "",
        "photos_by": photos_by if photos_by and _USERNAME.fullmatch(photos_by) else "",
    }
    if flagged:
        return _shorten(_render("flagged", context))
    if photo_count <= 0:
        return _shorten(_render("no_photo", context))
    if usable_photo_count <= 0:
        return _shorten(_render("unreadable", context))

    found = [label for label in labels if not label.moderation]
    names = _display_names(merge_labels(found), with_confidence=variant > 0)
    if not names:
        return _shorten(_render("no_labels", context))

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
    # Imported on first use: twitter_text builds its emoji tables and loads pkg_resources at
    # import, and what only judges labels (the API, shows_animal) never counts a reply.
    from twitter_text import parse_tweet

    return parse_tweet(text).weightedLength


def _render(name: str, context: dict) -> str:
    text = render_to_string(f"bot/replies/{name}.txt", context)
    return " ".join(text.split())


def _fits(text: str) -> bool:
    return weighted_length(text) <= MAX_WEIGHTED_LENGTH


def _shorten(text: str) -> str:
    """Last resort, reached only if a template alone, or with a long reference, is too long:
    cut it to fit."""
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
    """Safe, distinct label names in the order given; with_confidence adds the floored
    confidence, so only a real 100 shows "100%"."""
    names: list[str] = []
    seen: set[str] = set()
    for label in labels:
        name = _clean_label(label.name)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(f"{name} ({math.floor(label.confidence)}%)" if with_confidence else name)
    return names


def _clean_label(name: str) -> str:
    """A label name as plain words, at most MAX_LABEL_CHARS long: every character but letters,
    digits and -'&() becomes a space, so X shows no mention, hashtag, cashtag or link in it,
    whatever text surrounds it. Cut after cleaning, so the cut cannot make a link either."""
    text = "".join(character if _visible_alnum(character) or character in _LABEL_PUNCTUATION else " " for character in name)
    text = " ".join(text.split())
    if len(text) > MAX_LABEL_CHARS:
        text = text[: MAX_LABEL_CHARS - 1].rstrip() + "…"
    return text


def _visible_alnum(character: str) -> bool:
    """A letter or digit that renders as one: the Hangul fillers are letters that show nothing."""
    return character.isalnum() and not _INVISIBLE.match(character)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
