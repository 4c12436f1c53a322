from django.urls import path

from bot import views

# The API's and the admin's URLs are imported when a path under them is first resolved (or
# a URL reversed), not on every cold start: DRF and drf-spectacular (which imports
# django.test) were a third of a Lambda cold start, the admin's registrations an eighth of
# what was left, and the webhook needs neither. A resolver built from a module name imports
# it on first use, as ROOT_URLCONF is; include() would import it here.
API_URLS = ("bot.api.urls", "api", "api")  # (module, app_name, namespace), what include() returns
# The console's pages and the admin's. No namespace of its own (include() would say None):
# the admin's, "admin", is its patterns', and the console's names are reversed without one.
ADMIN_URLS = ("imagebot_site.admin_urls", "", "")

urlpatterns = [
    path("admin/", ADMIN_URLS),
    path("api/", API_URLS),
    path("webhooks/x/", views.webhook, name="x-webhook"),
    path("webhooks/x", views.webhook),  # a registration without the slash: a redirect would drop the body
]
