"""The API's viewsets: lists and records, read-only (GET, HEAD, OPTIONS).

Each one reads through bot.api.selectors and filters through bot.api.filters; who may read
is bot.api.permissions, how much is the user throttle in settings.REST_FRAMEWORK.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import APIRootView
from rest_framework.views import APIView

from bot.api import filters, selectors, serializers
from bot.api.pagination import RecordPagination
from bot.api.permissions import DELIVERY_PERMISSIONS, LABEL_PERMISSIONS, TWEET_PERMISSIONS, CanViewRecords
from bot.api.schema import ApiSchema
from bot.models import Delivery, Label, Tweet

READ_METHODS = ["get", "head", "options"]


class ReadOnlyApi(viewsets.GenericViewSet):
    """What every viewset of the API shares: who may read, how pages and filters work, the schema's error answers."""

    permission_classes = [CanViewRecords]
    required_permissions: tuple[str, ...] = TWEET_PERMISSIONS
    staff_only = False
    pagination_class = RecordPagination
    filter_backends = [DjangoFilterBackend]
    http_method_names = READ_METHODS
    schema = ApiSchema()

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """Filters are for lists: a record is found by its id alone, whatever else the query string says."""
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


@extend_schema_view(
    list=extend_schema(summary="Tweets, newest first", description="The tweets the bot recorded, filtered, searched and ordered."),
    retrieve=extend_schema(
        summary="One tweet by its X id",
        description="The tweet with its photos, their labels (with confidence, parents and categories) and moderation labels, "
        "and the bot's reply with its status.",
    ),
)
class TweetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReadOnlyApi):
    required_permissions = TWEET_PERMISSIONS
    filterset_class = filters.TweetFilter
    lookup_field = "x_id"
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Tweet]:
        return selectors.tweets()

    def get_serializer_class(self) -> type[serializers.TweetSerializer]:
        return serializers.TweetDetailSerializer if self.action == "retrieve" else serializers.TweetSerializer


@extend_schema_view(
    list=extend_schema(
        summary="Label statistics",
        description="For each label found on recognised photos: on how many photos and tweets, and with what mean confidence, "
        "over the chosen time (by when the tweets were received). Most frequent first.",
    )
)
class LabelStatsViewSet(mixins.ListModelMixin, ReadOnlyApi):
    required_permissions = LABEL_PERMISSIONS
    filterset_class = filters.LabelStatsFilter
    serializer_class = serializers.LabelStatsSerializer

    def get_queryset(self) -> QuerySet[Label]:
        return selectors.recognised_labels()


@extend_schema_view(
    list=extend_schema(summary="Deliveries, newest first", description="Every validly signed POST from X, without its body. For staff."),
    retrieve=extend_schema(summary="One delivery", description="One delivery, without its body. For staff."),
)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ReadOnlyApi):
    required_permissions = DELIVERY_PERMISSIONS
    staff_only = True
    filterset_class = filters.DeliveryFilter
    serializer_class = serializers.DeliverySerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Delivery]:
        return selectors.deliveries()

    @extend_schema(
        summary="One delivery's raw body",
        description="The body X sent, byte for byte, for debugging or `manage.py replay_delivery`. For staff.",
        responses=serializers.DeliveryBodySerializer,
    )
    @action(detail=True)
    def body(self, request: Request, pk: str) -> Response:
        delivery = selectors.delivery_bodies().filter(pk=int(pk)).first()
        if delivery is None:
            raise NotFound("No such delivery.")
        return Response(serializers.DeliveryBodySerializer(delivery).data)


class ApiRootView(APIRootView):
    """The imagebot API: the bot's records, read-only. The schema is at /api/schema/, its documentation at /api/docs/."""

    permission_classes = [CanViewRecords]
    required_permissions = TWEET_PERMISSIONS


class NotFoundView(APIView):
    """Any other path under /api/: a JSON 404 (for whoever may read the API), like the API's own."""

    permission_classes = [CanViewRecords]
    required_permissions = TWEET_PERMISSIONS
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # who asks, may they, not too often
        raise NotFound()
