"""bot.media's download: the allow-list, redirects, HTTP failures, the byte cap and the time limit.

Against a real local HTTP server (tests/fixtures/media_server.py) and real images encoded
by Pillow. What fetch_image does with the bytes (prepare_image): test_media_images.py.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from bot import media
from bot.media import MediaError, download, fetch_image, url_allowed
from tests.fixtures.media_server import assert_pixel_close, decode_image, make_image_bytes, make_large_png, make_noise_image_bytes

# --- Allow-list -------------------------------------------------------------------------


def test_it_refuses_a_url_outside_the_allow_list_without_a_request(media_server):
    media_server.serve_image("/photo.jpg", make_image_bytes("JPEG"))
    outside = media_server.url("/photo.jpg").replace("127.0.0.1", "localhost")

    with pytest.raises(MediaError) as error:
        download(outside)

    assert error.value.permanent
    assert error.value.reason == f"URL outside the allow-list: {outside}"
    assert media_server.requests == []


def test_it_refuses_a_url_with_userinfo(media_server, monkeypatch):
    prefix = media_server.base_url.rstrip("/")  # an operator forgot the trailing slash
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", prefix)
    media_server.serve_image("/photo.jpg", make_image_bytes("JPEG"))
    sneaky = f"{prefix}@localhost:{prefix.rsplit(':', 1)[1]}/photo.jpg"

    with pytest.raises(MediaError) as error:
        download(sneaky)

    assert error.value.permanent
    assert "allow-list" in error.value.reason
    assert media_server.requests == []


def test_it_refuses_userinfo_even_when_the_prefix_has_it(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", "https://bot@pbs.twimg.com/")

    assert not url_allowed("https://bot@pbs.twimg.com/media/a.jpg")


def test_it_refuses_non_http_schemes_even_when_allow_listed(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", "file:///,ftp://pbs.twimg.com/")

    assert not url_allowed("file:///etc/passwd")
    assert not url_allowed("ftp://pbs.twimg.com/media/a.jpg")


def test_a_prefix_without_its_trailing_slash_does_not_admit_another_host(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", "https://pbs.twimg.com")

    assert url_allowed("https://pbs.twimg.com/media/a.jpg")
    assert not url_allowed("https://pbs.twimg.com.evil.example/media/a.jpg")
    assert not url_allowed("https://pbs.twimg.com:8443/media/a.jpg")


def test_the_default_allow_list_is_twitters_media_hosts(monkeypatch):
    monkeypatch.delenv("IMAGEBOT_MEDIA_URL_PREFIXES", raising=False)

    assert url_allowed("https://pbs.twimg.com/media/abc.jpg?format=jpg&name=large")
    assert url_allowed("https://ton.twimg.com/1.1/ton/data/dm/1/2/a.jpg")
    assert not url_allowed("http://pbs.twimg.com/media/abc.jpg")


@pytest.mark.parametrize(
    "path",
    [
        "../evil.jpg",
        "a/../../evil.jpg",
        "./../evil.jpg",
        "%2e%2e/evil.jpg",
        "%2E%2E/evil.jpg",
        ".%2e/evil.jpg",
        "%2e./evil.jpg",
        "..;/evil.jpg",
        "..%2fevil.jpg",
        "%2e%2e%2fevil.jpg",
        "..%5cevil.jpg",
        "..\\evil.jpg",
        "%252e%252e/evil.jpg",
        "..%zz/evil.jpg",
        "ok.jpg/..",
        "%6f%6b.jpg",
        "..\t/evil.jpg",
    ],
)
def test_a_path_not_in_normal_form_is_refused_as_it_could_leave_the_prefix(monkeypatch, path):
    # requests turns %2e into "." and urllib3 then removes "..": /media/%2e%2e/evil.jpg is fetched as /evil.jpg.
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", "https://pbs.twimg.com/media/")

    assert not url_allowed(f"https://pbs.twimg.com/media/{path}")


def test_a_path_in_normal_form_under_the_prefix_is_allowed(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", "https://pbs.twimg.com/media/")

    assert url_allowed("https://pbs.twimg.com/media/Fx1_a-b.c~d.jpg?format=jpg&name=large")
    assert url_allowed("https://pbs.twimg.com/media/caf%C3%A9%20%e2%82%ac.jpg")  # escapes of what is not unreserved
    assert url_allowed("https://pbs.twimg.com/media/a..b/...jpg")  # dots, but no dot segment
    assert not url_allowed("https://pbs.twimg.com/evil.jpg")


def test_a_prefixs_path_ends_at_a_segment_boundary(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", "https://pbs.twimg.com/media")

    assert url_allowed("https://pbs.twimg.com/media")
    assert url_allowed("https://pbs.twimg.com/media/a.jpg")
    assert not url_allowed("https://pbs.twimg.com/media-evil/a.jpg")
    assert not url_allowed("https://pbs.twimg.com/mediaevil.jpg")


def test_a_url_with_dot_segments_is_refused_without_a_request(media_server, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", media_server.url("/media/"))
    media_server.serve_image("/secret.jpg", make_image_bytes("JPEG"))
    sneaky = media_server.url("/media/%2e%2e/secret.jpg")

    with pytest.raises(MediaError) as error:
        download(sneaky)

    assert error.value.permanent
    assert error.value.reason == f"URL outside the allow-list: {sneaky}"
    assert media_server.requests == []


# --- Redirects ---------------------------------------------------------------------------


def test_it_follows_a_redirect_inside_the_allow_list(media_server):
    photo = make_image_bytes("JPEG")
    media_server.serve_image("/final.jpg", photo)
    media_server.route("/moved.jpg", status=302, location="/final.jpg")

    assert download(media_server.url("/moved.jpg")) == photo
    assert media_server.paths == ["/moved.jpg", "/final.jpg"]


def test_it_refuses_a_redirect_outside_the_allow_list(media_server):
    media_server.serve_image("/final.jpg", make_image_bytes("JPEG"))
    elsewhere = media_server.url("/final.jpg").replace("127.0.0.1", "localhost")
    media_server.route("/moved.jpg", status=301, location=elsewhere)

    with pytest.raises(MediaError) as error:
        download(media_server.url("/moved.jpg"))

    assert error.value.permanent
    assert error.value.reason == f"redirect outside the allow-list: {elsewhere}"
    assert media_server.paths == ["/moved.jpg"]


@pytest.mark.parametrize("location", ["media/../secret.jpg", "media/%2e%2e/secret.jpg", "media-evil/secret.jpg"])
def test_a_redirect_cannot_leave_the_prefixs_path(media_server, monkeypatch, location):
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", media_server.url("/media/"))
    media_server.serve_image("/secret.jpg", make_image_bytes("JPEG"))
    media_server.serve_image("/media-evil/secret.jpg", make_image_bytes("JPEG"))
    target = media_server.url(location)  # absolute, so urljoin leaves its dot segments alone
    media_server.route("/media/moved.jpg", status=302, location=target)

    with pytest.raises(MediaError) as error:
        download(media_server.url("/media/moved.jpg"))

    assert error.value.permanent
    assert error.value.reason == f"redirect outside the allow-list: {target}"
    assert media_server.paths == ["/media/moved.jpg"]


def test_it_refuses_a_scheme_relative_redirect_to_another_host(media_server):
    media_server.route("/moved.jpg", status=307, location="//evil.example/x.jpg")

    with pytest.raises(MediaError) as error:
        download(media_server.url("/moved.jpg"))

    assert error.value.permanent
    assert error.value.reason == "redirect outside the allow-list: http://evil.example/x.jpg"


def test_a_malformed_redirect_fails_the_photo_for_good(media_server):
    url = media_server.route("/moved.jpg", status=302, location="http://[::1/x.jpg")

    with pytest.raises(MediaError) as error:
        download(url)

    assert error.value.permanent
    assert error.value.reason == f"cannot fetch {url}: Invalid IPv6 URL"


def test_it_gives_up_after_three_redirects(media_server):
    media_server.route("/a.jpg", status=302, location="/b.jpg")
    media_server.route("/b.jpg", status=302, location="/a.jpg")

    with pytest.raises(MediaError) as error:
        download(media_server.url("/a.jpg"))

    assert error.value.permanent
    assert "too many redirects" in error.value.reason
    assert len(media_server.requests) == 4


# --- HTTP failures -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_a_client_error_is_permanent(media_server, status):
    url = media_server.route("/gone.jpg", b"nope", status=status, content_type="text/plain")

    with pytest.raises(MediaError) as error:
        download(url)

    assert error.value.permanent
    assert error.value.reason == f"HTTP {status} for {url}"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_server_error_or_throttling_is_temporary(media_server, status):
    url = media_server.route("/busy.jpg", b"later", status=status, content_type="text/plain")

    with pytest.raises(MediaError) as error:
        download(url)

    assert not error.value.permanent
    assert error.value.reason == f"HTTP {status} for {url}"


def test_a_read_timeout_is_temporary(media_server, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_READ_TIMEOUT", "0.2")
    url = media_server.route("/slow.jpg", make_image_bytes("JPEG"), content_type="image/jpeg", delay=1.0)

    with pytest.raises(MediaError) as error:
        download(url)

    assert not error.value.permanent
    assert error.value.reason == f"timed out fetching {url}"


def test_a_server_dripping_bytes_is_cut_off_at_the_total_limit(media_server, monkeypatch):
    # Each 1 KiB piece arrives well inside the read timeout; only the total limit stops it.
    monkeypatch.setenv("IMAGEBOT_MEDIA_READ_TIMEOUT", "5")
    monkeypatch.setenv("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "0.5")
    body = make_noise_image_bytes("PNG", size=(64, 64))
    assert len(body) > 10 * 1024  # so the drip lasts seconds, far beyond the limit
    url = media_server.route("/drip.png", body, content_type="image/png", trickle=0.2)

    started = time.monotonic()
    with pytest.raises(MediaError) as error:
        download(url)

    assert time.monotonic() - started < 2.0
    assert not error.value.permanent
    assert error.value.reason == f"download from {url} took longer than 0.5 s"
    media_server.wait_idle()
    assert media_server.requests[0].bytes_sent < len(body)


# What a download may take past its total limit: the watchdog's wake-up and the unwinding.
SLACK = 0.5


def _download_against_the_clock(url: str) -> tuple[MediaError, float]:
    started = time.monotonic()
    with pytest.raises(MediaError) as error:
        download(url)
    return error.value, time.monotonic() - started


def test_a_host_dripping_its_status_line_and_headers_is_cut_off_at_the_total_limit(media_server, monkeypatch):
    # About 90 bytes of status line and headers, 0.05 s apart: 4.5 s, each byte well inside the read timeout.
    monkeypatch.setenv("IMAGEBOT_MEDIA_READ_TIMEOUT", "5")
    monkeypatch.setenv("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "1")
    url = media_server.route("/drip.jpg", make_image_bytes("JPEG"), content_type="image/jpeg", drip_head=0.05)

    error, elapsed = _download_against_the_clock(url)

    assert elapsed < 1 + SLACK
    assert not error.permanent
    assert error.reason == f"download from {url} took longer than 1 s"
    media_server.wait_idle()
    assert media_server.requests[0].bytes_sent == 0  # the body never went out


def test_a_host_dripping_its_headers_over_tls_is_cut_off_at_the_total_limit(media_server_tls, monkeypatch):
    # Over TLS the connection's first socket object is detached from it: the cut must still reach it.
    monkeypatch.setenv("IMAGEBOT_MEDIA_READ_TIMEOUT", "5")
    monkeypatch.setenv("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "1")
    photo = make_image_bytes("JPEG")
    assert download(media_server_tls.serve_image("/quick.jpg", photo)) == photo  # the TLS set-up itself works
    url = media_server_tls.route("/drip.jpg", photo, content_type="image/jpeg", drip_head=0.05)

    error, elapsed = _download_against_the_clock(url)

    assert elapsed < 1 + SLACK
    assert not error.permanent
    assert error.reason == f"download from {url} took longer than 1 s"


def test_a_slow_redirect_chain_is_cut_off_at_the_total_limit(media_server, monkeypatch):
    # Each hop answers in 0.6 s, inside the read timeout; the four of them would take 2.4 s.
    monkeypatch.setenv("IMAGEBOT_MEDIA_READ_TIMEOUT", "5")
    monkeypatch.setenv("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "1")
    media_server.route("/final.jpg", make_image_bytes("JPEG"), content_type="image/jpeg", delay=0.6)
    for hop, target in (("/r1.jpg", "/r2.jpg"), ("/r2.jpg", "/r3.jpg"), ("/r3.jpg", "/final.jpg")):
        media_server.route(hop, status=302, location=target, delay=0.6)

    error, elapsed = _download_against_the_clock(media_server.url("/r1.jpg"))

    assert elapsed < 1 + SLACK
    assert not error.permanent
    assert error.reason == f"download from {media_server.url('/r2.jpg')} took longer than 1 s"
    assert media_server.paths == ["/r1.jpg", "/r2.jpg"]


def test_a_connect_that_hangs_is_cut_off_at_the_total_limit(monkeypatch):
    # A listening socket whose backlog is full: the next connect waits for the connect timeout.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port))
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("IMAGEBOT_MEDIA_CONNECT_TIMEOUT", "5")
    monkeypatch.setenv("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "1")
    url = f"http://127.0.0.1:{port}/photo.jpg"

    try:
        error, elapsed = _download_against_the_clock(url)
    finally:
        queued.close()
        server.close()

    assert elapsed < 1 + SLACK
    assert not error.permanent
    assert error.reason == f"download from {url} took longer than 1 s"


def test_a_tls_handshake_dripping_in_is_cut_off_at_the_total_limit(monkeypatch):
    # A TLS record header announcing 16 KiB, then one byte every 0.1 s: the handshake never ends.
    monkeypatch.setenv("IMAGEBOT_MEDIA_CONNECT_TIMEOUT", "5")
    monkeypatch.setenv("IMAGEBOT_MEDIA_READ_TIMEOUT", "5")
    monkeypatch.setenv("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "1")
    url = _dripping_server(b"\x16\x03\x03\x40\x00", b"\x00", every=0.1, seconds=8).replace("http://", "https://")
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", url.rsplit("/", 1)[0] + "/")

    error, elapsed = _download_against_the_clock(url)

    assert elapsed < 1 + SLACK
    assert not error.permanent
    assert error.reason == f"download from {url} took longer than 1 s"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_slow_download_within_the_total_limit_arrives_whole(media_server, monkeypatch, chunked):
    monkeypatch.setenv("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "10")
    body = make_noise_image_bytes("PNG", size=(40, 40))
    url = media_server.route("/slow.png", body, content_type="image/png", trickle=0.01, chunked=chunked)

    assert download(url) == body


def test_a_refused_connection_is_temporary(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", f"http://127.0.0.1:{port}/")

    with pytest.raises(MediaError) as error:
        download(f"http://127.0.0.1:{port}/photo.jpg")

    assert not error.value.permanent
    assert error.value.reason.startswith("connection error")


def test_it_refuses_a_page_that_is_clearly_not_an_image(media_server):
    url = media_server.route("/login", b"<html><body>Log in</body></html>", content_type="text/html; charset=utf-8")

    with pytest.raises(MediaError) as error:
        download(url)

    assert error.value.permanent
    assert error.value.reason == "not an image (text/html)"


def _dripping_server(head: bytes, drip: bytes, *, every: float, seconds: float) -> str:
    """A raw socket server: sends head, then drip every `every` seconds for `seconds`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def run():
        connection, _ = server.accept()
        connection.recv(65536)
        connection.sendall(head)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                connection.sendall(drip)
                time.sleep(every)
        except OSError:
            pass  # the client cut it off
        connection.close()
        server.close()

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/photo.jpg"


@pytest.mark.parametrize(
    ("head", "drip"),
    [
        # The first chunk's size line never ends (a chunk extension dripping in).
        (b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n1;a", b"a"),
        # A gzip header whose file name never ends: decoding yields nothing for ever.
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Encoding: gzip\r\nContent-Length: 100000\r\n\r\n"
            b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\x03",
            b"a",
        ),
    ],
    ids=["chunk-size-line", "gzip-header"],
)
def test_the_total_limit_holds_where_the_reader_waits_inside_one_read(monkeypatch, head, drip):
    monkeypatch.setenv("IMAGEBOT_MEDIA_READ_TIMEOUT", "2")
    monkeypatch.setenv("IMAGEBOT_MEDIA_TOTAL_TIMEOUT", "0.5")
    url = _dripping_server(head, drip, every=0.2, seconds=8)
    monkeypatch.setenv("IMAGEBOT_MEDIA_URL_PREFIXES", url.rsplit("/", 1)[0] + "/")

    started = time.monotonic()
    with pytest.raises(MediaError) as error:
        download(url)

    assert time.monotonic() - started < 3.0
    assert not error.value.permanent
    assert error.value.reason == f"download from {url} took longer than 0.5 s"


# --- Byte cap --------------------------------------------------------------------------------


def test_it_refuses_a_body_over_the_cap_from_its_content_length_without_reading_it(media_server, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_MAX_BYTES", "100000")
    body = bytes(32 * 1024 * 1024)  # far more than the socket buffers hold
    url = media_server.route("/huge.jpg", body, content_type="image/jpeg")

    with pytest.raises(MediaError) as error:
        download(url)

    assert error.value.permanent
    assert error.value.reason == f"image too large: {len(body)} bytes > cap 100000"
    media_server.wait_idle()
    assert media_server.requests[0].bytes_sent < len(body)


def test_it_refuses_a_chunked_body_over_the_cap_while_streaming(media_server, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_MAX_BYTES", "100000")
    body = bytes(32 * 1024 * 1024)
    url = media_server.route("/huge.jpg", body, content_type="image/jpeg", chunked=True)

    with pytest.raises(MediaError) as error:
        download(url)

    assert error.value.permanent
    assert error.value.reason == "image too large: more than cap 100000 bytes"
    media_server.wait_idle()
    assert "Content-Length" not in media_server.requests[0].headers
    assert media_server.requests[0].bytes_sent < len(body)


def test_a_chunked_body_exactly_at_the_cap_is_accepted(media_server, monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_MAX_BYTES", "100000")
    body = os.urandom(100000)
    url = media_server.route("/edge.bin", body, chunked=True)

    assert download(url) == body


# --- fetch_image end to end ------------------------------------------------------------------


def test_it_fetches_a_jpeg_and_passes_it_through_unchanged(media_server):
    photo = make_image_bytes("JPEG", (640, 480))
    url = media_server.serve_image("/media/abc.jpg?format=jpg&name=large", photo)

    prepared = fetch_image(url)

    assert prepared == media.PreparedImage(
        content=photo,
        content_type="image/jpeg",
        extension="jpg",
        width=640,
        height=480,
        source_format="JPEG",
        converted=False,
    )


def test_it_fetches_a_webp_and_converts_it(media_server):
    url = media_server.serve_image("/media/abc.webp", make_image_bytes("WEBP", (300, 200), color="blue"))

    prepared = fetch_image(url)

    assert (prepared.content_type, prepared.extension, prepared.source_format) == ("image/jpeg", "jpg", "WEBP")
    assert prepared.converted
    image = decode_image(prepared.content)
    assert (image.format, image.size) == ("JPEG", (300, 200))
    assert_pixel_close(image.getpixel((150, 100)), (0, 0, 255))


def test_fetch_image_refuses_a_bomb_served_as_an_image(media_server):
    url = media_server.route("/bomb.png", make_large_png(20000, 20000), content_type="image/png")

    with pytest.raises(MediaError) as error:
        fetch_image(url)

    assert error.value.permanent
    assert error.value.reason.startswith("decompression bomb")
