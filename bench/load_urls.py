"""The real site's URLs plus /bench/bare/, a view that answers 200 at once: the baseline.

With BENCH_PROCESSING=elsewhere the dispatch seam only counts (as bench/webhook.py does):
the webhook's work ends at the 200, as on Lambda where processing is another invocation.

With BENCH_FLOOR (bench/load.py --floors), the webhook stops short of its transaction, to
measure what the answer costs without it: "parsed" writes nothing (the signature checked,
the delivery parsed, its rows prepared), "delivery" writes the Delivery's row alone, one
INSERT that commits by itself (after the connection's health check, as the webhook's), the
least the webhook can store and still keep what came.
"""

import os

from django.http import HttpRequest, HttpResponse
from django.urls import path

from bot import conf, dispatch, services
from bot.events import parse_delivery
from bot.inserting import dbapi_cursor
from bot.models import Delivery
from bot.services.recording import delivery_rows_prepare
from bot.writer import one_writer
from imagebot_site.urls import urlpatterns as site_urlpatterns

if os.environ.get("BENCH_PROCESSING") == "elsewhere":
    dispatch.dispatch = lambda job, tweet_pk: None

FLOOR = os.environ.get("BENCH_FLOOR", "")
if FLOOR not in ("", "parsed", "delivery"):
    raise ValueError(f"BENCH_FLOOR is parsed or delivery, not {FLOOR!r}")


def _floor_record(*, body: bytes, payload: dict) -> Delivery:
    """services.delivery_record up to its transaction; for "delivery", the Delivery's row alone.

    The row goes as the webhook's transaction sends its statements (bot.inserting's
    dbapi_cursor, under SQLite's writer queue), but in autocommit, without BEGIN and COMMIT:
    the INSERT commits itself."""
    parsed = parse_delivery(payload, bot_user_id=conf.x_bot_user_id())
    delivery, delivery_insert, _writes = delivery_rows_prepare(body, parsed=parsed)
    if FLOOR == "delivery":
        with one_writer(), dbapi_cursor() as cursor:
            delivery_insert.run(cursor)
    return delivery


if FLOOR:
    services.delivery_record = _floor_record  # what the webhook view calls


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare), *site_urlpatterns]
