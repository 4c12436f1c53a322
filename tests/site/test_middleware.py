"""Static files through WhiteNoise, set up on the first request for one (imagebot_site/middleware.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from imagebot_site.middleware import StaticFilesMiddleware


def test_it_sets_whitenoise_up_on_the_first_request_for_a_static_file(settings, tmp_path, rf):
    settings.STATIC_ROOT = tmp_path
    passed_on: list[str] = []

    def site(request: HttpRequest) -> HttpResponse:
        passed_on.append(request.path_info)
        return HttpResponse("the site")

    middleware = StaticFilesMiddleware(site)
    # Collected after the middleware was made: WhiteNoise has not read STATIC_ROOT yet.
    (tmp_path / "admin" / "css").mkdir(parents=True)
    (tmp_path / "admin" / "css" / "base.css").write_text("body { margin: 0 }")

    webhook = middleware(rf.get("/webhooks/x/", {"crc_token": "abc"}))
    assert middleware.whitenoise is None
    stylesheet = middleware(rf.get("/static/admin/css/base.css"))
    missing = middleware(rf.get("/static/admin/css/missing.css"))

    assert webhook.content == b"the site"
    assert stylesheet.status_code == 200 and stylesheet["Content-Type"].startswith("text/css")
    assert b"".join(stylesheet.streaming_content) == b"body { margin: 0 }"
    assert missing.content == b"the site"  # not a collected file: the site answers (its 404)
    assert passed_on == ["/webhooks/x/", "/static/admin/css/missing.css"]


def test_it_reads_the_static_files_once(settings, tmp_path, rf):
    settings.STATIC_ROOT = tmp_path
    (tmp_path / "a.css").write_text("a")
    middleware = StaticFilesMiddleware(lambda request: HttpResponse("the site"))

    middleware(rf.get("/static/a.css"))
    whitenoise = middleware.whitenoise
    middleware(rf.get("/static/a.css"))

    assert whitenoise is not None and middleware.whitenoise is whitenoise
