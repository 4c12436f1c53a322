from django.contrib import admin
from django.urls import path

from bot import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/x/", views.webhook, name="x-webhook"),
]
