from django.contrib import admin
from django.urls import include, path

from bot import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("bot.api.urls")),
    path("webhooks/x/", views.webhook, name="x-webhook"),
    path("webhooks/x", views.webhook),  # a registration without the slash: a redirect would drop the body
]
