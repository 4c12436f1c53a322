"""What the API reads. Querysets only: nothing here writes.

Each queryset fetches a page in a fixed number of queries, whatever the page's size:
related rows come through select_related (one join) or prefetch_related (one query per
relation), never one query per row.

Labels count only where the reply counts them: on recognised photos (a photo whose
moderation check is still to be retried keeps its labels, but is not recognised yet).

"Shows an animal" is the reply's judgement (bot.replies.shows_animal): a non-moderation
label whose name, or one of whose parents, is in ANIMAL_LABELS, compared without case.
The API's records say it by calling shows_animal itself; the `animal` filter asks the
database the same question (`animal_labels`), and tests hold the two to the same answers:
- a name is compared through LOWER(), against the lower-cased ANIMAL_LABELS;
- parents are a JSON list, so each animal name is looked for as a whole JSON string
  (`"dog"`, quotes included) in the list's text, without case (ILIKE-style).
Where they could part: a name or parent written with non-ASCII look-alikes that Python
case-folds to ASCII (the Kelvin sign K for K), or a parent holding a double quote before an
animal name (`x"Dog`). Rekognition's and the local model's names are plain ASCII words.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Avg, Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Lower

from bot.models import Delivery, Label, Photo, Tweet
from bot.replies import ANIMAL_LABELS

_ANIMAL_NAMES = sorted(name.lower() for name in ANIMAL_LABELS)


def recognised_labels() -> QuerySet[Label]:
    """Every label (moderation labels too) of a recognised photo."""
    return Label.objects.filter(photo__status=Photo.Status.RECOGNISED)


def animal_labels(labels: QuerySet[Label]) -> QuerySet[Label]:
    """The labels among `labels` that show an animal, as replies.shows_animal judges them (see the module's note)."""
    in_parents = Q()
    for name in _ANIMAL_NAMES:
        in_parents |= Q(parents__icontains=json.dumps(name))
    return labels.filter(is_moderation=False).alias(name_key=Lower("name")).filter(Q(name_key__in=_ANIMAL_NAMES) | in_parents)


def tweet_shows_animal() -> Exists:
    """For a Tweet queryset: whether one of its recognised photos shows an animal."""
    return Exists(animal_labels(recognised_labels().filter(photo__tweet=OuterRef("pk"))))


def tweet_has_label(name: str) -> Exists:
    """For a Tweet queryset: whether one of its recognised photos has a (non-moderation) label of that name, in any case."""
    return Exists(recognised_labels().filter(photo__tweet=OuterRef("pk"), is_moderation=False, name__iexact=name))


def tweet_flagged() -> Exists:
    """For a Tweet queryset: whether one of its photos was flagged by moderation (Photo.flagged)."""
    return Exists(Photo.objects.filter(tweet=OuterRef("pk"), flagged=True))


def tweets() -> QuerySet[Tweet]:
    """Tweets with their reply, photos and the photos' labels: three queries for any number of tweets."""
    photos = Photo.objects.order_by("position").prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("-confidence", "name")))
    return Tweet.objects.select_related("reply").prefetch_related(Prefetch("photos", queryset=photos))


def label_stats(labels: QuerySet[Label]) -> QuerySet[Label, dict[str, Any]]:
    """One row per label name (moderation labels apart): how many photos and tweets have it, its mean and top confidence.

    The rows are dicts (name, is_moderation, photo_count, tweet_count, mean_confidence, max_confidence).
    """
    return labels.values("name", "is_moderation").annotate(
        photo_count=Count("photo_id"),
        tweet_count=Count("photo__tweet_id", distinct=True),
        mean_confidence=Avg("confidence"),
        max_confidence=Max("confidence"),
    )


def deliveries() -> QuerySet[Delivery]:
    """Deliveries without their raw bodies, with the X ids of the tweets each one brought: two queries a page."""
    brought = Tweet.objects.only("x_id", "delivery_id").order_by("pk")
    return Delivery.objects.defer("body").prefetch_related(Prefetch("tweets", queryset=brought))


def delivery_bodies() -> QuerySet[Delivery]:
    """Deliveries with their raw bodies and nothing else."""
    return Delivery.objects.only("pk", "size", "body")
