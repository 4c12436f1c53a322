"""The real site's URLs plus /bench/bare/, a view that answers 200 at once: the baseline.

With BENCH_PROCESSING=elsewhere the dispatch seam only counts (as bench/webhook.py does):
the webhook's work ends at the 200, as on Lambda where processing is another invocation.
"""

import os

from django.http import HttpRequest, HttpResponse
from django.urls import path

from bot import dispatch
from imagebot_site.urls import urlpatterns as site_urlpatterns

if os.environ.get("BENCH_PROCESSING") == "elsewhere":
    dispatch.dispatch = lambda job, tweet_pk: None


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), *site_urlpatterns]
