"""Peak memory of preparing one photo (bot.media.prepare_image), for hostile images each in a fresh process.

Each image is made here: most are small files that decode huge (a 30-byte lossless WebP of
16383x3000 RGBA, deflate TIFFs and PNGs of a few hundred KB), next to the largest photos X
itself serves (4096 px a side) and a normal 4096x3072 JPEG. Each is prepared in a new
interpreter by tests.fixtures.media_server.prepare_in_fresh_process, which reports the peak
RSS increase from resource.getrusage; the tests use the same probe on a few of these.

Prints JSON: the budget (bot.media.MEMORY_BUDGET) and, per image, its file size, the peak
RSS increase, whether it is under the budget, and what prepare_image did (the photo it
made, or why it refused). Exits 1 if any image went over the budget.
Run: .venv/bin/python bench/media_memory.py [KIND ...]
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable

from common import ROOT

sys.path.insert(0, str(ROOT))

from PIL import Image

from bot import media
from tests.fixtures.media_server import (
    make_large_bmp,
    make_large_jpeg,
    make_large_png,
    make_large_tiff,
    make_large_webp,
    make_noise_image_bytes,
    prepare_in_fresh_process,
)

MIB = 1024 * 1024


def normal_jpeg(width: int = 4096, height: int = 3072) -> bytes:
    """Something like a camera photo: smooth gradients under fine noise, 2 to 3 MB at quality 90."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 24)
    image = Image.merge("RGB", (gradient, Image.blend(gradient.transpose(Image.Transpose.ROTATE_180), noise, 0.3), noise))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def gif(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (width, height), 3).save(buffer, "GIF")
    return buffer.getvalue()


KINDS: dict[str, Callable[[], bytes]] = {
    # The hostile images of the hardening issue.
    "webp_lossless_rgba_16383x3000": lambda: make_large_webp(16383, 3000),
    "tiff_float_7071x7071": lambda: make_large_tiff(7071, 7071, "F"),
    "png_rgba_50000x999": lambda: make_large_png(50000, 999, "RGBA"),
    "jpeg_cmyk_7071x7071": lambda: make_large_jpeg(7071, 7071, "CMYK"),
    "tiff_cmyk_7071x7071": lambda: make_large_tiff(7071, 7071, "CMYK"),
    "jpeg_normal_4096x3072": normal_jpeg,
    # Others: coefficient buffers, run-length palettes, what X serves at its largest, the edges.
    "jpeg_progressive_444_7071x7071": lambda: make_large_jpeg(7071, 7071, progressive=True, subsampling=0),
    "jpeg_progressive_444_4096x4096": lambda: make_large_jpeg(4096, 4096, progressive=True, subsampling=0),
    "jpeg_rgb_7071x7071": lambda: make_large_jpeg(7071, 7071),
    "jpeg_rgb_40000x1000": lambda: make_large_jpeg(40000, 1000),
    "jpeg_cmyk_4096x4096": lambda: make_large_jpeg(4096, 4096, "CMYK"),
    "png_rgba_4096x4096": lambda: make_large_png(4096, 4096, "RGBA"),
    "png_noise_rgba_2200x2200": lambda: make_noise_image_bytes("PNG", (2200, 2200), "RGBA"),  # under the 20 MiB download cap
    "png_rgba_14000x1000": lambda: make_large_png(14000, 1000, "RGBA"),
    "png_1bit_7071x7071": lambda: make_large_png(7071, 7071),
    "bmp_rle8_7071x7071": lambda: make_large_bmp(7071, 7071),
    "bmp_rle8_4096x4096": lambda: make_large_bmp(4096, 4096),
    "gif_4096x4096": lambda: gif(4096, 4096),
    "webp_lossless_rgba_4096x4096": lambda: make_large_webp(4096, 4096, alpha=0),
    "webp_lossless_rgba_3700x3700": lambda: make_large_webp(3700, 3700, alpha=0),
    "tiff_float_4096x4096": lambda: make_large_tiff(4096, 4096, "F"),
    "tiff_rgba_5000x5000": lambda: make_large_tiff(5000, 5000, "RGBA"),
    "tiff_16bit_5000x5000": lambda: make_large_tiff(5000, 5000, "I;16"),
    "tiff_rgba_100x100_tile_4096": lambda: make_large_tiff(100, 100, "RGBA", tile=4096),
    "tiff_rgba_100x100_tile_16384": lambda: make_large_tiff(100, 100, "RGBA", tile=16384),
}


def measure(kind: str) -> dict:
    data = KINDS[kind]()
    result = prepare_in_fresh_process(data)
    peak = result.pop("peak_rss_increase")
    outcome = result.get("prepared") or f"refused: {result['refused']}"
    return {
        "kind": kind,
        "file_bytes": len(data),
        "peak_rss_increase_mib": round(peak / MIB, 1),
        "under_budget": peak < media.MEMORY_BUDGET,
        "outcome": outcome,
    }


def main() -> int:
    kinds = sys.argv[1:] or list(KINDS)
    images = [measure(kind) for kind in kinds]
    print(json.dumps({"budget_mib": media.MEMORY_BUDGET // MIB, "images": images}, indent=2))
    return 0 if all(image["under_budget"] for image in images) else 1


if __name__ == "__main__":
    sys.exit(main())
