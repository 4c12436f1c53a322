"""Try a photo: upload one to four, see the labels and the reply the bot would post.

Through the real pipeline (validation, storage, the configured recogniser, the reply's
text), recorded as a tweet marked as a trial, and answered in dry run whatever X_DRY_RUN says.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from bot import conf
from bot.models import Tweet
from bot.services import console


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class TrialForm(forms.Form):
    photos = forms.FileField(
        widget=_MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp", "multiple": True}),
        help_text=f"1 to {console.TRIAL_MAX_PHOTOS} photos, as a post can carry.",
    )


def trial_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("bot.view_tweet"):
        raise PermissionDenied
    tweet: Tweet | None = None
    form = TrialForm()
    if request.method == "POST":
        form = TrialForm(request.POST, request.FILES)
        files = request.FILES.getlist("photos")
        too_big = [upload.name for upload in files if upload.size is not None and upload.size > conf.media_max_bytes()]
        if too_big:
            messages.error(request, f"{', '.join(str(name) for name in too_big)}: larger than IMAGEBOT_MEDIA_MAX_BYTES")
        elif not files:
            messages.error(request, "Choose at least one photo.")
        else:
            try:
                tweet = console.trial_record([(str(upload.name), upload.read()) for upload in files], username=request.user.get_username())
            except console.TrialRefused as exc:
                messages.error(request, f"Not tried: {exc}")
    if tweet is not None:
        tweet = Tweet.objects.select_related("reply").prefetch_related("photos__labels").get(pk=tweet.pk)
    context = {
        **admin.site.each_context(request),
        "title": "Try a photo",
        "form": form,
        "tweet": tweet,
        "reply": getattr(tweet, "reply", None) if tweet else None,
        "photos": list(tweet.photos.all()) if tweet else [],
        "recogniser": conf.recogniser(),
    }
    return TemplateResponse(request, "admin/bot/trial.html", context)
