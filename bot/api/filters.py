"""The API's query parameters, one FilterSet per list.

Every value goes through a form field, so a value that cannot be understood is a 400 that
names the parameter, never silently ignored and never a 500: an unknown status or ordering,
a boolean that is not true/false/1/0, a date that is not ISO 8601, a NUL character. An empty
value (`?status=`, as the browsable API's filter form sends) means "no filter", and the
schema says so (`allowEmptyValue`). Parameters the API does not know are ignored, as
everywhere on the web.

Times are ISO 8601 (`2026-11-26`, `2026-11-26T10:15:00Z`); without an offset they are UTC.
A range is half-open: `received_from` (inclusive) to `received_before` (exclusive), so
`received_from=2026-11-01&received_before=2026-12-01` is November, once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from django import forms
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField, MultipleChoiceField
from drf_spectacular.utils import extend_schema_field

from bot.api import selectors
from bot.models import Delivery, Label, Tweet

# Longest search or name a filter takes: longer ones are refused (400), not cut.
MAX_TEXT = 200
# Text may hold any character but NUL (which no record holds, and PostgreSQL cannot compare): a NUL is a 400.
NO_NUL = r"^[^\u0000]*$"


class StrictBooleanField(forms.NullBooleanField):
    """true/false/1/0, any case; anything else is an error (django-filter's own widget would ignore it)."""

    widget = forms.TextInput
    default_error_messages = {"invalid": "Must be true or false (or 1 or 0)."}
    _VALUES = {"true": True, "1": True, "false": False, "0": False}

    # The stubs type NullBooleanField.to_python as BooleanField's (never None); Django's own returns None too.
    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if value in (None, ""):
            return None
        try:
            return self._VALUES[str(value).lower()]
        except KeyError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class ChoicesField(MultipleChoiceField):
    """One or more choices; empty values (`?status=`) are left out, so an empty one filters nothing."""

    def to_python(self, value: Any) -> list[str]:
        return [choice for choice in super().to_python(value) if choice != ""]


class ChoicesFilter(filters.MultipleChoiceFilter):
    field_class = ChoicesField


class MomentField(IsoDateTimeField):
    """An ISO 8601 date or date and time; UTC when it carries no offset.

    A moment that is valid but lies outside what Python can hold in UTC (year 1 at +01:00,
    year 9999 at -01:00) is read as the earliest or latest moment there is: it lies before
    or after every record all the same.
    """

    default_error_messages = {"invalid": "Enter a date or a date and time in ISO 8601 (2026-11-26 or 2026-11-26T10:15:00Z)."}

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            return datetime.min.replace(tzinfo=UTC) if moment.year == 1 else datetime.max.replace(tzinfo=UTC)


class MomentFilter(filters.IsoDateTimeFilter):
    field_class = MomentField


def text_filter(help_text: str, *, method: str | None = None, field_name: str | None = None, lookup: str = "exact") -> filters.CharFilter:
    """A text parameter of at most MAX_TEXT characters (a longer one is a 400), described as such in the schema."""
    text = filters.CharFilter(method=method, field_name=field_name, lookup_expr=lookup, max_length=MAX_TEXT, help_text=help_text)
    # drf-spectacular documents extend_schema_field for filters too; the stubs only know serializer fields.
    schema = {"type": "string", "maxLength": MAX_TEXT, "pattern": NO_NUL, "description": help_text}
    return extend_schema_field(schema)(text)  # type: ignore[type-var]


class StableOrderingFilter(filters.OrderingFilter):
    """Ordering by the chosen fields, then by the row's id in the same direction, so pages never
    overlap or skip a row; rows without a value (a tweet with no posting time) always come last."""

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        params = [param for param in value or () if param]  # `?ordering=,` names nothing
        if not params:
            return qs
        ordering: list[OrderBy] = []
        for param in params:
            name = self.get_ordering_value(param)
            descending = name.startswith("-")
            field = F(name.lstrip("-"))
            ordering.append(field.desc(nulls_last=True) if descending else field.asc(nulls_last=True))
        last = F("pk").desc() if ordering[-1].descending else F("pk").asc()
        return qs.order_by(*ordering, last)


class ReceivedRange(filters.FilterSet):
    received_from = MomentFilter(field_name="received_at", lookup_expr="gte", help_text="Received at or after this moment (ISO 8601).")
    received_before = MomentFilter(field_name="received_at", lookup_expr="lt", help_text="Received before this moment (ISO 8601).")


class TweetFilter(ReceivedRange):
    status = ChoicesFilter(choices=Tweet.Status.choices, help_text="One or more statuses (repeat the parameter).")
    label = text_filter(
        "A label's name, in any case, on one of the tweet's recognised photos (moderation labels are not matched).",
        method="filter_label",
    )
    flagged = StrictBooleanFilter(method="filter_flagged", help_text="Whether one of its photos was flagged by moderation.")
    animal = StrictBooleanFilter(
        method="filter_animal",
        help_text="Whether one of its recognised photos shows an animal (a label or one of its parents is one), as the reply judges it.",
    )
    author = text_filter("The author's username, with or without @, in any case.", method="filter_author")
    author_x_id = text_filter("The author's X id.", field_name="author_x_id")
    search = text_filter(
        "Words, each found (in any case) in the tweet's text or its author's username.",
        method="filter_search",
    )
    ordering = StableOrderingFilter(
        fields=(("received_at", "received_at"), ("posted_at", "posted_at"), ("updated_at", "updated_at"), ("author_username", "author")),
        help_text="Comma-separated, `-` for descending. Default: -received_at.",
    )

    class Meta:
        model = Tweet
        fields: list[str] = []

    def filter_label(self, tweets: QuerySet[Tweet], name: str, value: str) -> QuerySet[Tweet]:
        return tweets.filter(selectors.tweet_has_label(value))

    def filter_flagged(self, tweets: QuerySet[Tweet], name: str, value: bool) -> QuerySet[Tweet]:
        return tweets.filter(selectors.tweet_flagged() if value else ~selectors.tweet_flagged())

    def filter_animal(self, tweets: QuerySet[Tweet], name: str, value: bool) -> QuerySet[Tweet]:
        return tweets.filter(selectors.tweet_shows_animal() if value else ~selectors.tweet_shows_animal())

    def filter_author(self, tweets: QuerySet[Tweet], name: str, value: str) -> QuerySet[Tweet]:
        return tweets.filter(author_username__iexact=value.removeprefix("@"))

    def filter_search(self, tweets: QuerySet[Tweet], name: str, value: str) -> QuerySet[Tweet]:
        for word in value.split():
            tweets = tweets.filter(Q(text__icontains=word) | Q(author_username__icontains=word))
        return tweets


class LabelStatsFilter(ReceivedRange):
    """Filters the labels first (by their tweet's time of receipt), then counts them, then orders the counts."""

    received_from = MomentFilter(
        field_name="photo__tweet__received_at", lookup_expr="gte", help_text="Tweets received at or after this moment (ISO 8601)."
    )
    received_before = MomentFilter(
        field_name="photo__tweet__received_at", lookup_expr="lt", help_text="Tweets received before this moment (ISO 8601)."
    )
    moderation = StrictBooleanFilter(
        field_name="is_moderation", help_text="true: moderation labels only; false: the other labels only. Default: both."
    )
    name = text_filter("Only labels with this name, in any case.", field_name="name", lookup="iexact")
    ordering = filters.OrderingFilter(
        fields=(("photo_count", "count"), ("mean_confidence", "mean_confidence"), ("name", "name")),
        help_text="Comma-separated, `-` for descending. Default: -count, then name.",
    )

    class Meta:
        model = Label
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Label]) -> QuerySet[Label, dict[str, Any]]:
        data = dict(self.form.cleaned_data)
        ordering = data.pop("ordering", None)
        for field_name, value in data.items():
            queryset = self.filters[field_name].filter(queryset, value)
        stats = selectors.label_stats(queryset)
        params = [param for param in ordering or () if param]  # `?ordering=,` names nothing
        if not params:
            return stats.order_by("-photo_count", "name", "is_moderation")
        ordering_filter = cast(filters.OrderingFilter, self.filters["ordering"])
        return stats.order_by(*(ordering_filter.get_ordering_value(param) for param in params), "name", "is_moderation")


class DeliveryFilter(ReceivedRange):
    outcome = ChoicesFilter(choices=Delivery.Outcome.choices, help_text="One or more outcomes (repeat the parameter).")

    class Meta:
        model = Delivery
        fields: list[str] = []
