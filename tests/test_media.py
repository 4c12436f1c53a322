"""bot.media against a real local HTTP server and real images encoded by Pillow."""

from __future__ import annotations

import io
import os
import socket
import threading
import time

import pytest
from PIL import Image

from bot import media
from bot.media import MAX_OUTPUT_BYTES, MediaError, download, fetch_image, prepare_image, url_allowed
from tests.fixtures.media_server import (
    make_animated_gif_bytes,
    make_image_bytes,
    make_large_png,
    make_noise_image_bytes,
)


def decode(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def assert_close(pixel, expected, tolerance=12):
    assert all(abs(a - b) <= tolerance for a, b in zip(pixel, expected)), (pixel, expected)


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
    image = decode(prepared.content)
    assert (image.format, image.size) == ("JPEG", (300, 200))
    assert_close(image.getpixel((150, 100)), (0, 0, 255))


# --- Pass-through ----------------------------------------------------------------------------

def test_a_png_passes_through_unchanged():
    photo = make_image_bytes("PNG", (200, 100), "RGBA", color=(0, 255, 0, 128))

    prepared = prepare_image(photo)

    assert prepared.content == photo
    assert (prepared.content_type, prepared.extension, prepared.source_format) == ("image/png", "png", "PNG")
    assert (prepared.width, prepared.height, prepared.converted) == (200, 100, False)


def test_a_phone_camera_mpo_passes_through_as_jpeg():
    first, preview = Image.new("RGB", (100, 100), "red"), Image.new("RGB", (100, 100), "blue")
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[preview])

    prepared = prepare_image(buffer.getvalue())

    assert prepared.content == buffer.getvalue()
    assert (prepared.source_format, prepared.content_type, prepared.extension) == ("MPO", "image/jpeg", "jpg")
    assert prepared.converted is False


def test_a_greyscale_jpeg_passes_through_unchanged():
    photo = make_image_bytes("JPEG", (100, 100), "L")

    assert prepare_image(photo).content == photo


# --- Conversion ------------------------------------------------------------------------------

def test_an_animated_gif_becomes_its_first_frame_as_jpeg():
    prepared = prepare_image(make_animated_gif_bytes(("red", "blue"), (120, 90)))

    image = decode(prepared.content)
    assert (prepared.source_format, prepared.content_type, prepared.converted) == ("GIF", "image/jpeg", True)
    assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("JPEG", (120, 90), 1)
    assert_close(image.getpixel((60, 45)), (255, 0, 0))


def test_a_gif_with_transparent_pixels_becomes_png():
    frame = Image.new("P", (100, 100), 1)
    frame.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    frame.paste(0, (0, 0, 50, 100))
    buffer = io.BytesIO()
    frame.save(buffer, "GIF", transparency=0)

    prepared = prepare_image(buffer.getvalue())

    image = decode(prepared.content)
    assert (prepared.content_type, prepared.extension, image.mode) == ("image/png", "png", "RGBA")
    assert image.getpixel((10, 50))[3] == 0
    assert image.getpixel((90, 50)) == (0, 0, 255, 255)


def test_a_webp_with_transparency_becomes_png_keeping_alpha():
    image = Image.new("RGBA", (100, 100), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 50, 100))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=True)

    prepared = prepare_image(buffer.getvalue())

    result = decode(prepared.content)
    assert (prepared.content_type, prepared.source_format) == ("image/png", "WEBP")
    assert result.getpixel((10, 50))[3] == 0
    assert result.getpixel((90, 50)) == (255, 0, 0, 255)


def test_a_webp_whose_alpha_is_all_opaque_becomes_jpeg():
    prepared = prepare_image(make_image_bytes("WEBP", (100, 100), "RGBA", color=(0, 255, 0, 255), lossless=True))

    assert prepared.content_type == "image/jpeg"
    assert decode(prepared.content).mode == "RGB"


@pytest.mark.parametrize(
    ("fmt", "mode", "color", "expected"),
    [
        ("BMP", "RGB", (0, 0, 255), (0, 0, 255)),
        ("BMP", "P", "red", (255, 0, 0)),
        ("TIFF", "RGB", (0, 255, 0), (0, 255, 0)),
        ("TIFF", "I;16", 40000, (156, 156, 156)),
        ("TIFF", "CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("JPEG", "CMYK", (0, 255, 255, 0), (255, 0, 0)),
    ],
)
def test_other_formats_and_modes_become_rgb_jpeg(fmt, mode, color, expected):
    prepared = prepare_image(make_image_bytes(fmt, (100, 100), mode, color=color))

    image = decode(prepared.content)
    assert (prepared.source_format, prepared.content_type, prepared.converted) == (fmt, "image/jpeg", True)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (100, 100))
    assert_close(image.getpixel((50, 50)), expected)


def test_a_half_transparent_la_tiff_becomes_png():
    prepared = prepare_image(make_image_bytes("TIFF", (100, 100), "LA", color=(200, 128)))

    image = decode(prepared.content)
    assert prepared.content_type == "image/png"
    assert image.getpixel((50, 50)) == (200, 200, 200, 128)


def test_the_exif_orientation_is_applied_when_converting():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    photo = make_image_bytes("WEBP", (200, 100), exif=exif.tobytes())

    prepared = prepare_image(photo)

    assert (prepared.width, prepared.height) == (100, 200)
    assert decode(prepared.content).getexif().get(0x0112) is None


def test_a_tiny_image_is_upscaled_to_80_pixels_on_its_shorter_side():
    prepared = prepare_image(make_image_bytes("PNG", (40, 20)))

    assert (prepared.width, prepared.height) == (160, 80)
    assert decode(prepared.content).size == (160, 80)
    assert prepared.converted


def test_an_image_wider_than_10000_pixels_is_downscaled_keeping_its_aspect():
    prepared = prepare_image(make_image_bytes("JPEG", (12000, 300)))

    assert prepared.converted
    assert (prepared.width, prepared.height) == (10000, 250)
    assert decode(prepared.content).size == (10000, 250)


def test_a_thin_strip_is_clamped_to_both_limits():
    prepared = prepare_image(make_image_bytes("PNG", (20000, 50), "L"))

    assert (prepared.width, prepared.height) == (10000, 80)


def test_a_noisy_png_over_5_mb_becomes_a_jpeg_under_5_mb():
    photo = make_noise_image_bytes("PNG", (1500, 1500), compress_level=0)
    assert len(photo) > MAX_OUTPUT_BYTES

    prepared = prepare_image(photo)

    assert len(prepared.content) <= MAX_OUTPUT_BYTES
    assert (prepared.content_type, prepared.width, prepared.height) == ("image/jpeg", 1500, 1500)


def test_a_noisy_transparent_png_over_5_mb_falls_back_to_jpeg():
    photo = make_noise_image_bytes("PNG", (1300, 1300), "RGBA", compress_level=0)
    assert len(photo) > MAX_OUTPUT_BYTES

    prepared = prepare_image(photo)

    assert prepared.content_type == "image/jpeg"
    assert len(prepared.content) <= MAX_OUTPUT_BYTES


def test_a_noisy_image_too_big_even_at_low_quality_is_downscaled_under_5_mb():
    photo = make_noise_image_bytes("BMP", (4000, 3000))

    prepared = prepare_image(photo)

    assert len(prepared.content) <= MAX_OUTPUT_BYTES
    assert prepared.width < 4000
    assert prepared.width * 3 == pytest.approx(prepared.height * 4, abs=4)
    assert decode(prepared.content).size == (prepared.width, prepared.height)


# --- Refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("data", "reason_start"),
    [
        (make_noise_image_bytes("JPEG", (200, 200))[:-5000], "corrupt JPEG image"),
        (make_image_bytes("PNG", (200, 200))[:-30], "corrupt PNG image"),
        (os.urandom(4096), "not an image"),
        (b"<!doctype html><html><body>Sorry</body></html>", "not an image"),
        (b"", "not an image"),
    ],
    ids=["truncated-jpeg", "truncated-png", "random-bytes", "html", "empty"],
)
def test_undecodable_bytes_are_refused_permanently(data, reason_start):
    with pytest.raises(MediaError) as error:
        prepare_image(data)

    assert error.value.permanent
    assert error.value.reason.startswith(reason_start)


def test_a_decompression_bomb_is_refused():
    bomb = make_large_png(20000, 20000)
    assert len(bomb) < 100_000

    with pytest.raises(MediaError) as error:
        prepare_image(bomb)

    assert error.value.permanent
    assert error.value.reason.startswith("decompression bomb: ")
    assert "400000000 pixels" in error.value.reason


def test_an_image_over_the_pixel_cap_is_refused_from_its_header_alone():
    # Only the start of the image data: decoding or verifying it would fail differently.
    header_only = make_large_png(8000, 8000)[:200]

    with pytest.raises(MediaError) as error:
        prepare_image(header_only)

    assert error.value.permanent
    assert error.value.reason == "decompression bomb: 64000000 pixels > 50000000"


def test_the_pixel_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("IMAGEBOT_MEDIA_MAX_PIXELS", "10000")

    with pytest.raises(MediaError) as error:
        prepare_image(make_image_bytes("PNG", (200, 100)))

    assert error.value.reason == "decompression bomb: 20000 pixels > 10000"
    assert prepare_image(make_image_bytes("PNG", (100, 100))).converted is False


def test_the_pixel_check_leaves_pillows_global_limit_alone():
    before = Image.MAX_IMAGE_PIXELS

    with pytest.raises(MediaError):
        prepare_image(make_large_png(8000, 8000))

    assert Image.MAX_IMAGE_PIXELS == before


def test_fetch_image_refuses_a_bomb_served_as_an_image(media_server):
    url = media_server.route("/bomb.png", make_large_png(20000, 20000), content_type="image/png")

    with pytest.raises(MediaError) as error:
        fetch_image(url)

    assert error.value.permanent
    assert error.value.reason.startswith("decompression bomb")


def test_formats_that_hand_data_to_outside_programs_are_never_opened():
    # Pillow reads EPS by running Ghostscript; a photo never needs it.
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\nshowpage\n"
    with Image.open(io.BytesIO(eps)) as opened_by_pillow_alone:  # Pillow itself would take it
        assert opened_by_pillow_alone.format == "EPS"

    with pytest.raises(MediaError) as error:
        prepare_image(eps)

    assert error.value.permanent and error.value.reason == "not an image (unknown format)"


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
        (b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Encoding: gzip\r\nContent-Length: 100000\r\n\r\n"
         b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\x03", b"a"),
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
