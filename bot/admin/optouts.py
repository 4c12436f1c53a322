"""Opt-outs: who asked the bot never to answer them, and who opted back in.

Rows are never edited here: an operator opts someone out with the form on the list
(bot.services.optout_create) or forgets an opt-out with "Opt back in" (optout_delete).
Looking needs the view permission; both changes need the change permission.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from bot import services
from bot.admin.base import badge
from bot.models import OptOut


class OptOutForm(forms.Form):
    author_x_id = forms.RegexField(regex=r"^[1-9][0-9]{0,19}$", max_length=20, error_messages={"invalid": "an X user id is 1 to 20 digits"})
    username = forms.CharField(max_length=50, required=False)


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["author_x_id", "author_username", "state", "word", "changed_by_x_id", "updated_at"]
    list_filter = ["opted_out"]
    search_fields = ["author_x_id", "author_username"]
    actions = ["opt_back_in"]
    change_list_template = "admin/bot/optout/change_list.html"
    fields = readonly_fields = ("author_x_id", "author_username", "state", "word", "changed_by_x_id", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # through the form on the list (optout_create), never typed in

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # "Opt back in" (optout_delete)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff and request.user.has_perm("bot.change_optout")

    @admin.display(description="state", ordering="opted_out")
    def state(self, obj: OptOut) -> SafeString:
        return badge("failed", "opted out") if obj.opted_out else badge("done", "opted back in")

    def get_urls(self) -> list[URLPattern]:
        own = [path("opt-out/", self.admin_site.admin_view(require_POST(self.create_view)), name="bot_optout_create")]
        return own + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        context = {"can_operate": self.has_operate_permission(request), "optout_form": OptOutForm(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    def create_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_operate_permission(request):
            raise PermissionDenied
        form = OptOutForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(f"{name}: {' '.join(str(error) for error in errors)}" for name, errors in form.errors.items())
            self.message_user(request, f"Not opted out: {problems}", messages.ERROR)
        else:
            author_x_id = form.cleaned_data["author_x_id"]
            services.optout_create(author_x_id, username=form.cleaned_data["username"])
            if services.author_opted_out(author_x_id):
                self.message_user(request, f"X user {author_x_id} is opted out: the bot never answers them, until they write start")
            else:
                self.message_user(request, f"X user {author_x_id}: a newer post of theirs decided; not changed", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:bot_optout_changelist"))

    @admin.action(description="Opt back in: the bot answers them again", permissions=["operate"])
    def opt_back_in(self, request: HttpRequest, queryset: QuerySet[OptOut]) -> None:
        forgotten = [x_id for x_id in queryset.values_list("author_x_id", flat=True) if services.optout_delete(x_id)]
        self.message_user(request, f"Opted back in: {len(forgotten)} ({', '.join(forgotten) or 'none'})")
