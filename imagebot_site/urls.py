from django.contrib import admin
from django.urls import include, path

from bot import views
from bot.admin import console_urls

urlpatterns = [
    path("admin/", include(console_urls())),  # the console's dashboard and try page, before the admin's catch-all
    path("admin/", admin.site.urls),
    path("api/", include("bot.api.urls")),
    path("webhooks/x/", views.webhook, name="x-webhook"),
    path("webhooks/x", views.webhook),  # a registration without the slash: a redirect would drop the body
]
