"""The API's URLs, included under /api/ by imagebot_site/urls.py (names in the `api` namespace).

    /api/                          the browsable index
    /api/tweets/                   tweets (filters, search, ordering, pages)
    /api/tweets/<X id>/            one tweet by its id on X
    /api/labels/                   label statistics
    /api/deliveries/               deliveries, for staff; /api/deliveries/<id>/body/ the raw body
    /api/schema/                   the OpenAPI 3 schema (YAML; ?format=json for JSON)
    /api/docs/                     Swagger UI on that schema, served from drf-spectacular-sidecar
Every other path under /api/ is a JSON 404 (once it ends in a slash: APPEND_SLASH redirects first).
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from bot.api import views
from bot.api.permissions import CanViewRecords

app_name = "api"

router = DefaultRouter()
router.APIRootView = views.ApiRootView
router.register("tweets", views.TweetViewSet, basename="tweet")
router.register("labels", views.LabelStatsViewSet, basename="label-stats")
router.register("deliveries", views.DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[CanViewRecords]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[CanViewRecords]), name="docs"),
    *router.urls,
    # Any other path ending in a slash, newlines included. Without the slash, CommonMiddleware
    # sends it to the slashed one first (/api/tweets to /api/tweets/), as everywhere on the site.
    re_path(r"^[\s\S]*/$", views.NotFoundView.as_view()),
]
