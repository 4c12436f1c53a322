"""The pages under /admin/: the console's own (bot.admin.console_urls) and every registered model's.

Imported when a path under /admin/ is first resolved or a URL reversed (imagebot_site/urls.py),
not on every cold start: the registrations are made here, by the admin's autodiscover, instead
of at start-up (the admin app is imagebot_site.apps.AdminConfig, which does not autodiscover).
The webhook needs none of it: the console's modules, the reply composer they import, auth's
forms and the admin's filters were an eighth of a Lambda cold start's set-up.
"""

from django.contrib import admin
from django.urls import include, path

from bot.admin import console_urls

admin.autodiscover()  # every installed app's admin module: the bot's console, auth's users and groups, DRF's tokens

urlpatterns = [
    path("", include(console_urls())),  # the console's dashboard and try page, before the admin's catch-all
    path("", admin.site.urls),
]
