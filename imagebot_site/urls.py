from django.contrib import admin
from django.urls import include, path

from bot import views
from bot.admin import console_urls

# The API's URLs are imported when a path under /api/ is first resolved (or a URL reversed),
# not on every cold start: DRF and drf-spectacular (which imports django.test) are a third
# of a Lambda cold start, and the webhook needs neither. A resolver built from a module
# name imports it on first use, as ROOT_URLCONF is; include() would import it here.
API_URLS = ("bot.api.urls", "api", "api")  # (module, app_name, namespace), what include() returns

urlpatterns = [
    path("admin/", include(console_urls())),  # the console's dashboard and try page, before the admin's catch-all
    path("admin/", admin.site.urls),
    path("api/", API_URLS),
    path("webhooks/x/", views.webhook, name="x-webhook"),
    path("webhooks/x", views.webhook),  # a registration without the slash: a redirect would drop the body
]
