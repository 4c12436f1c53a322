"""bot.media's prepare_image: what Rekognition is given, from real images encoded by Pillow.

Photos it takes pass through unchanged; others are converted within its limits; bytes that
are no image, or an image too large to open safely, are refused for good. Downloading:
test_media.py.
"""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from bot.media import MAX_OUTPUT_BYTES, MediaError, prepare_image
from tests.fixtures.media_server import (
    assert_pixel_close,
    decode_image,
    make_animated_gif_bytes,
    make_image_bytes,
    make_large_png,
    make_noise_image_bytes,
)

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

    image = decode_image(prepared.content)
    assert (prepared.source_format, prepared.content_type, prepared.converted) == ("GIF", "image/jpeg", True)
    assert (image.format, image.size, getattr(image, "n_frames", 1)) == ("JPEG", (120, 90), 1)
    assert_pixel_close(image.getpixel((60, 45)), (255, 0, 0))


def test_a_gif_with_transparent_pixels_becomes_png():
    frame = Image.new("P", (100, 100), 1)
    frame.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    frame.paste(0, (0, 0, 50, 100))
    buffer = io.BytesIO()
    frame.save(buffer, "GIF", transparency=0)

    prepared = prepare_image(buffer.getvalue())

    image = decode_image(prepared.content)
    assert (prepared.content_type, prepared.extension, image.mode) == ("image/png", "png", "RGBA")
    assert image.getpixel((10, 50))[3] == 0
    assert image.getpixel((90, 50)) == (0, 0, 255, 255)


def test_a_webp_with_transparency_becomes_png_keeping_alpha():
    image = Image.new("RGBA", (100, 100), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 50, 100))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=True)

    prepared = prepare_image(buffer.getvalue())

    result = decode_image(prepared.content)
    assert (prepared.content_type, prepared.source_format) == ("image/png", "WEBP")
    assert result.getpixel((10, 50))[3] == 0
    assert result.getpixel((90, 50)) == (255, 0, 0, 255)


def test_a_webp_whose_alpha_is_all_opaque_becomes_jpeg():
    prepared = prepare_image(make_image_bytes("WEBP", (100, 100), "RGBA", color=(0, 255, 0, 255), lossless=True))

    assert prepared.content_type == "image/jpeg"
    assert decode_image(prepared.content).mode == "RGB"


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

    image = decode_image(prepared.content)
    assert (prepared.source_format, prepared.content_type, prepared.converted) == (fmt, "image/jpeg", True)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (100, 100))
    assert_pixel_close(image.getpixel((50, 50)), expected)


def test_a_half_transparent_la_tiff_becomes_png():
    prepared = prepare_image(make_image_bytes("TIFF", (100, 100), "LA", color=(200, 128)))

    image = decode_image(prepared.content)
    assert prepared.content_type == "image/png"
    assert image.getpixel((50, 50)) == (200, 200, 200, 128)


def test_the_exif_orientation_is_applied_when_converting():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    photo = make_image_bytes("WEBP", (200, 100), exif=exif.tobytes())

    prepared = prepare_image(photo)

    assert (prepared.width, prepared.height) == (100, 200)
    assert decode_image(prepared.content).getexif().get(0x0112) is None


def test_a_tiny_image_is_upscaled_to_80_pixels_on_its_shorter_side():
    prepared = prepare_image(make_image_bytes("PNG", (40, 20)))

    assert (prepared.width, prepared.height) == (160, 80)
    assert decode_image(prepared.content).size == (160, 80)
    assert prepared.converted


def test_an_image_wider_than_10000_pixels_is_downscaled_keeping_its_aspect():
    prepared = prepare_image(make_image_bytes("JPEG", (12000, 300)))

    assert prepared.converted
    assert (prepared.width, prepared.height) == (10000, 250)
    assert decode_image(prepared.content).size == (10000, 250)


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
    assert decode_image(prepared.content).size == (prepared.width, prepared.height)


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

    assert before == Image.MAX_IMAGE_PIXELS


def test_formats_that_hand_data_to_outside_programs_are_never_opened():
    # Pillow reads EPS by running Ghostscript; a photo never needs it.
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\nshowpage\n"
    with Image.open(io.BytesIO(eps)) as opened_by_pillow_alone:  # Pillow itself would take it
        assert opened_by_pillow_alone.format == "EPS"

    with pytest.raises(MediaError) as error:
        prepare_image(eps)

    assert error.value.permanent and error.value.reason == "not an image (unknown format)"
