"""Safe download of tweet photos and their preparation for AWS Rekognition.

`fetch_image(url)` is the whole job: `download(url)` then `prepare_image(data)`.

Downloading only ever touches URLs under one of `conf.media_url_prefixes()`
(http/https, no user@ part, the path in normal form so no "../" or "%2e%2e/" climbs
out of a prefix's path, which ends at a segment boundary), follows at most MAX_REDIRECTS redirects itself and
checks each target against the same allow-list, uses `conf.media_timeout()` for
each connect and read, gives up when the whole download takes longer than
`conf.media_total_timeout()` (from before the first connect to the last byte of the
body, redirects included: a host dripping its TLS handshake, status line, headers or
body inside the read timeout is cut off; only the DNS lookup is not covered), and
stops reading as soon as more than `conf.media_max_bytes()` have arrived.

Preparing decodes the bytes with Pillow, refuses images with more pixels than
`conf.media_max_pixels()` from the header alone (before any pixel is decoded), and
returns JPEG or PNG bytes within Rekognition's limits: at most 5 MB and 80 to
10000 pixels a side. JPEG and PNG that already fit are passed through untouched.
Preparing one photo adds at most MEMORY_BUDGET to the process's peak RSS: from the
header, a model of what each format and mode takes a pixel (_memory_model) says what
decoding and converting will hold; a JPEG is decoded at 1/2, 1/4 or 1/8 of its size
where that is all it needs or all that fits, and other images that would not fit are
refused. bench/media_memory.py measures hostile images against it.

Every failure is a MediaError whose `permanent` flag says whether a later retry
could succeed (timeouts, connection errors, 5xx and 429 are temporary).
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import string
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
from PIL import Image, ImageOps, UnidentifiedImageError

from bot import conf

logger = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 5 * 1024 * 1024
MIN_SIDE = 80
MAX_SIDE = 10000
MAX_REDIRECTS = 3
# The most that preparing one photo may add to the process's peak RSS (Lambda functions
# have 512 MB in all). Images whose decoding would need more are refused, JPEGs first
# decoded smaller; X's own photos (at most 4096 px a side) fit in any mode but WebP.
MEMORY_BUDGET = 256 * 1024 * 1024
JPEG_QUALITIES = (90, 80, 70, 60)
SHRINK_FACTOR = 0.75
CHUNK_SIZE = 64 * 1024
# What a photo on X can be, and a few plain bitmap formats; never EPS, PDF and the like,
# whose Pillow plugins hand the data to outside programs.
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")

# Formats whose bytes Rekognition takes as they are. MPO is what Pillow calls the
# JPEG files many phone cameras write (a JPEG with extra preview images appended).
_PASS_THROUGH = {"JPEG": {"L", "RGB"}, "MPO": {"L", "RGB"}, "PNG": None}  # None: any mode
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}
_TEMPORARY_STATUSES = {408, 429}
_JPEG_FORMATS = {"JPEG", "MPO"}
# Bytes a pixel takes in Pillow, by mode; every other mode takes 4 (RGB too: Pillow pads it).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
_FIXED_BYTES = 32 * 1024 * 1024  # encoders' buffers, two ≤ 5 MB outputs, allocator slack
_MB = 1024 * 1024
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")  # RFC 3986 2.3


class MediaError(Exception):
    """A photo that could not be downloaded or used; `permanent` says whether retrying is pointless."""

    def __init__(self, reason: str, *, permanent: bool):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class PreparedImage:
    content: bytes
    content_type: str
    extension: str
    width: int
    height: int
    source_format: str
    converted: bool


def make_session() -> requests.Session:
    """The one place media requests get their session; tests and callers may replace it."""
    session = requests.Session()
    session.headers.update({"Accept": "image/*", "Accept-Encoding": "identity"})
    return session


# --- Download ---------------------------------------------------------------------


def url_allowed(url: str) -> bool:
    """True if url is http(s), has no user@ part, its path is in normal form and lies under an allow-listed prefix.

    A prefix's path ends at a segment boundary: "https://pbs.twimg.com/media" admits
    /media and /media/a.jpg, never /media-evil/a.jpg.
    """
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):  # urlsplit would drop some of them silently
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or "@" in parts.netloc:
        return False
    path = parts.path or "/"
    if not _in_normal_form(path):
        return False
    return any(_under_prefix(parts, path, prefix) for prefix in conf.media_url_prefixes())


def _under_prefix(parts: SplitResult, path: str, prefix: str) -> bool:
    # Comparing hosts too keeps a prefix written without its trailing slash
    # ("https://pbs.twimg.com") from letting "https://pbs.twimg.com.evil.example/" through.
    allowed = urlsplit(prefix)
    if (parts.scheme, parts.netloc) != (allowed.scheme, allowed.netloc):
        return False
    base = allowed.path or "/"
    return path.startswith(base) if base.endswith("/") else path == base or path.startswith(base + "/")


def _in_normal_form(path: str) -> bool:
    """True if normalising path (RFC 3986: escaped unreserved characters decoded, dot segments removed) leaves it as it is.

    Also False where servers disagree on what a path means: escaped "/", "\\" or "%", a
    backslash, "..;x" (read as ".." by some), a malformed escape. A path that is not in normal
    form is never compared with a prefix: requests decodes %2e to "." and urllib3 then
    removes "..", so /media/%2e%2e/evil.jpg would be fetched as /evil.jpg.
    """
    if "\\" in path:
        return False
    for piece in path.split("%")[1:]:
        code = piece[:2]
        if len(code) < 2 or any(digit not in string.hexdigits for digit in code):
            return False
        if chr(int(code, 16)) in _UNRESERVED | {"/", "\\", "%"}:
            return False
    return not any(segment.split(";", 1)[0] in {".", ".."} for segment in path.split("/"))


def download(url: str) -> bytes:
    """The body at url, or MediaError. At most conf.media_max_bytes() are read."""
    if not url_allowed(url):
        raise MediaError(f"URL outside the allow-list: {url}", permanent=True)
    with _Deadline(conf.media_total_timeout()) as deadline:
        session = make_session()
        adapter = _DeadlineAdapter(deadline)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                response = _get(session, url, deadline)
                try:
                    if not response.is_redirect:
                        return _read_body(response, url, deadline)
                    url = urljoin(url, response.headers["Location"])
                finally:
                    response.close()
                if not url_allowed(url):
                    raise MediaError(f"redirect outside the allow-list: {url}", permanent=True)
            raise MediaError(f"too many redirects (more than {MAX_REDIRECTS}), last: {url}", permanent=True)
        finally:
            session.close()


def _get(session: requests.Session, url: str, deadline: _Deadline) -> requests.Response:
    """The response to GET url once its status line and headers are in, within what is left of the deadline."""
    if deadline.passed:
        raise deadline.error(url)
    connect, read = conf.media_timeout()
    try:
        response = session.get(url, timeout=(min(connect, deadline.left()), read), stream=True, allow_redirects=False)
    except (requests.RequestException, ValueError) as exc:
        if deadline.passed:  # the connection was cut under http.client, or the connect ran out of time
            raise deadline.error(url) from None
        raise _get_error(url, exc) from None
    if deadline.passed:  # headers cut short at the deadline can still parse: nothing they say counts
        response.close()
        raise deadline.error(url)
    return response


def _get_error(url: str, exc: Exception) -> MediaError:
    if isinstance(exc, requests.Timeout):
        return MediaError(f"timed out fetching {url}", permanent=False)
    if isinstance(exc, requests.ConnectionError):
        return MediaError(f"connection error fetching {url}: {type(exc).__name__}", permanent=False)
    if isinstance(exc, requests.RequestException):
        return MediaError(f"cannot fetch {url}: {type(exc).__name__}", permanent=True)
    return MediaError(f"cannot fetch {url}: {exc}", permanent=True)  # requests parses a redirect's Location even when not following it


def _read_body(response: requests.Response, url: str, deadline: _Deadline) -> bytes:
    _check_status(response.status_code, url)
    _check_content_type(response.headers.get("Content-Type", ""))
    cap = conf.media_max_bytes()
    declared = _content_length(response)
    if declared is not None and declared > cap:
        raise MediaError(f"image too large: {declared} bytes > cap {cap}", permanent=True)
    body = bytearray()
    try:
        while chunk := response.raw.read1(CHUNK_SIZE, decode_content=True):
            body += chunk
            if len(body) > cap:
                raise MediaError(f"image too large: more than cap {cap} bytes", permanent=True)
            if deadline.passed:  # also where no socket could be shut down
                break
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:  # read timeouts, cut connections
        if not deadline.passed:
            raise MediaError(f"download interrupted from {url}: {type(exc).__name__}", permanent=False) from None
    if deadline.passed:  # what arrived may be only part of it
        raise deadline.error(url)
    return bytes(body)


class _Deadline:
    """A download's total time limit, from before its first connect to the end of its body, across redirects.

    When it passes, every connection the download opened is shut down under its reader,
    wherever that waits inside the read timeout: a TLS handshake, a status line or headers
    dripping in, a body, a chunk-size line, a gzip header. A use: `with _Deadline(s) as deadline`.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._cut_off)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:  # so a timer firing now finds nothing left to shut down
            watched, self._sockets = self._sockets, []
        for sock in watched:
            sock.close()

    @property
    def passed(self) -> bool:
        return self._cut.is_set() or time.monotonic() >= self._ends

    def left(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def error(self, url: str) -> MediaError:
        return MediaError(f"download from {url} took longer than {self.seconds:g} s", permanent=False)

    def watch(self, sock: socket.socket) -> socket.socket:
        """Returns sock, keeping a duplicate of it to shut down at the deadline.

        A duplicate, because wrapping a socket in TLS detaches the original object from
        the connection; shutting down either descriptor shuts down the connection itself.
        """
        duplicate = sock.dup()
        with self._lock:
            self._sockets.append(duplicate)
            if self._cut.is_set():  # connected after the deadline
                _shut_down(duplicate)
        return sock

    def _cut_off(self) -> None:
        with self._lock:
            self._cut.set()
            for sock in self._sockets:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in recv, in another thread


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def _new_conn(self) -> socket.socket:  # where urllib3 connects, before any TLS or request byte
        return self.deadline.watch(super()._new_conn())


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def _new_conn(self) -> socket.socket:
        return self.deadline.watch(super()._new_conn())


_WATCHED: dict[type, type[urllib3.connection.HTTPConnection]] = {
    urllib3.connection.HTTPConnection: _WatchedHTTPConnection,
    urllib3.connection.HTTPSConnection: _WatchedHTTPSConnection,
}


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """Gives every connection its pools open (proxies' too, not SOCKS ones) the download's deadline."""

    def __init__(self, deadline: _Deadline) -> None:
        self.deadline = deadline
        super().__init__()

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: tuple[str, str] | str | None = None,
    ) -> urllib3.connectionpool.ConnectionPool:
        pool = super().get_connection_with_tls_context(request, verify, proxies=proxies, cert=cert)
        if isinstance(pool, urllib3.HTTPConnectionPool) and (watched := _WATCHED.get(pool.ConnectionCls)):
            pool.ConnectionCls = watched
            pool.conn_kw["deadline"] = self.deadline
        return pool


def _check_status(status: int, url: str) -> None:
    if status == 200:
        return
    temporary = status >= 500 or status in _TEMPORARY_STATUSES
    raise MediaError(f"HTTP {status} for {url}", permanent=not temporary)


def _check_content_type(header: str) -> None:
    """Refuse types that are clearly not images; Pillow has the final word on the rest."""
    content_type = header.split(";")[0].strip().lower()
    main, _, sub = content_type.partition("/")
    clearly_not = main in {"text", "audio", "video", "multipart", "font", "model", "message"} or (
        main == "application" and any(word in sub for word in ("json", "xml", "html", "javascript", "pdf"))
    )
    if clearly_not:
        raise MediaError(f"not an image ({content_type})", permanent=True)


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


# --- Preparation ------------------------------------------------------------------


def prepare_image(data: bytes) -> PreparedImage:
    """Check data is a usable image and return it as JPEG/PNG within Rekognition's limits."""
    _verify(data)
    with _open(data) as image:  # verify() leaves an image unusable, so open again
        scale = _decode_plan(image, data)
        if scale is None:
            _decode(image)
            source_format = _format_read(image)
            output_format = "JPEG" if source_format == "MPO" else source_format
            return _prepared(data, output_format, image.size, source_format=source_format, converted=False)
        if scale > 1:
            image.draft(None, (image.width // scale, image.height // scale))
        _decode(image)
        try:
            return _convert(image)
        except MediaError:
            raise
        except Exception as exc:  # e.g. a mode Pillow cannot turn into RGB, or broken EXIF
            reason = f"cannot convert {image.format} {image.mode} image: {exc}"
            raise MediaError(reason, permanent=True) from None


def fetch_image(url: str) -> PreparedImage:
    return prepare_image(download(url))


def _open(data: bytes) -> Image.Image:
    """Open data reading only its header, and refuse it if it has too many pixels or would need too much memory."""
    _check_webp_header(data)
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"decompression bomb: {exc}", permanent=True) from None
    except UnidentifiedImageError:
        raise MediaError("not an image (unknown format)", permanent=True) from None
    except Exception as exc:  # Pillow raises many types on hostile input
        raise MediaError(f"not an image ({type(exc).__name__}: {exc})", permanent=True) from None
    try:
        _check_pixels(image.size)
        _decode_plan(image, data)
    except MediaError:
        image.close()
        raise
    return image


def _check_pixels(size: tuple[int, int]) -> None:
    pixels = size[0] * size[1]
    limit = _max_pixels()
    if pixels > limit:
        raise MediaError(f"decompression bomb: {pixels} pixels > {limit}", permanent=True)


def _check_webp_header(data: bytes) -> None:
    """Refuse a WebP too large before Pillow opens it: its decoder allocates the whole canvas on opening, twice."""
    if not (data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30):
        return
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit width and height after the key frame's start code
        size, alpha = (int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF), False
    elif chunk == b"VP8L":  # lossless: width - 1 and height - 1 in 14 bits each, then the alpha bit
        bits = int.from_bytes(data[21:25], "little")
        size, alpha = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1), bool(bits >> 28 & 1)
    elif chunk == b"VP8X":  # extended: flags, then the canvas's width - 1 and height - 1 in 24 bits each
        size = (int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
        alpha = bool(data[20] & 0x10)
    else:
        return
    _check_pixels(size)
    mode = "RGBA" if alpha else "RGB"
    needed = _memory_model("WEBP", mode, size, converting=True)
    if needed > MEMORY_BUDGET:
        raise _too_large("WEBP", mode, size, needed)


def _format_read(image: Image.Image) -> str:
    """The format Image.open read the data as; only an image made in memory has none."""
    return cast(str, image.format)


def _max_pixels() -> int:
    # Pillow warns above its own global limit; honour it as well, without changing it.
    pillow_limit = Image.MAX_IMAGE_PIXELS
    return min(conf.media_max_pixels(), pillow_limit) if pillow_limit else conf.media_max_pixels()


def _verify(data: bytes) -> None:
    with _open(data) as image:
        try:
            image.verify()
        except Exception as exc:
            raise MediaError(f"corrupt {image.format} image: {exc}", permanent=True) from None


def _decode(image: Image.Image) -> None:
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"decompression bomb: {exc}", permanent=True) from None
    except Exception as exc:
        raise MediaError(f"corrupt {image.format} image: {exc}", permanent=True) from None


def _fits_as_is(image: Image.Image, data: bytes) -> bool:
    if image.format not in _PASS_THROUGH:
        return False
    modes = _PASS_THROUGH[image.format]
    return (
        (modes is None or image.mode in modes)
        and len(data) <= MAX_OUTPUT_BYTES
        and all(MIN_SIDE <= side <= MAX_SIDE for side in image.size)
    )


# --- Memory -----------------------------------------------------------------------


def _decode_plan(image: Image.Image, data: bytes) -> int | None:
    """None if image passes through as it is, otherwise the scale it is decoded at to be converted.

    1, or 2, 4 or 8 for a JPEG decoded smaller; MediaError if it cannot be decoded within MEMORY_BUDGET.
    """
    if _fits_as_is(image, data) and _memory_needed(image, converting=False) <= MEMORY_BUDGET:
        return None
    return _decode_scale(image)


def _memory_needed(image: Image.Image, *, converting: bool, scale: int = 1) -> int:
    progressive = image.format in _JPEG_FORMATS and bool(image.info.get("progressive"))
    return _memory_model(
        _format_read(image), image.mode, image.size, converting=converting, scale=scale, progressive=progressive, tile=_tile_pixels(image)
    )


def _tile_pixels(image: Image.Image) -> int:
    """Pixels in one tile of a tiled TIFF, which libtiff holds whole however large it is said to be; else 0."""
    tags = getattr(image, "tag_v2", None)
    if tags is None or 322 not in tags:
        return 0
    try:
        return int(tags[322]) * int(tags.get(323, 0))
    except (TypeError, ValueError):
        raise MediaError(f"corrupt TIFF image: tile size {tags.get(322)!r} x {tags.get(323)!r}", permanent=True) from None


def _memory_model(
    image_format: str,
    mode: str,
    size: tuple[int, int],
    *,
    converting: bool,
    scale: int = 1,
    progressive: bool = False,
    tile: int = 0,
) -> int:
    """Bytes that preparing such an image may add to the process's peak RSS, from its header alone.

    A conservative model of what Pillow and its decoders hold, which bench/media_memory.py
    measures: decoding holds the decoded pixels (scale: a JPEG decoded at 1/2, 1/4 or 1/8)
    and what the decoder keeps beside them (libtiff, a whole strip or tile: tile is its
    pixels, and may be more than the image's); converting holds two working RGB(A) copies
    at once, four while shrinking (Pillow premultiplies alpha into a copy, then resamples
    in two passes through a third image), beside what a WebP decoder keeps until the file
    is closed. Plus _FIXED_BYTES for the encoders and their output.
    """
    width, height = size
    pixels, decoded = width * height, -(-width // scale) * -(-height // scale)
    pixel_bytes = _MODE_BYTES.get(mode, 4)
    if progressive:  # libjpeg keeps every DCT coefficient, 2 bytes each, at full size whatever the scale
        beside = pixels * 2 * Image.getmodebands(mode)
    elif image_format == "TIFF":
        beside = max(pixels, tile) * pixel_bytes
    else:
        beside = pixels * {"WEBP": 12, "BMP": 2 * pixel_bytes, "GIF": pixel_bytes}.get(image_format, 0)
    decoding = decoded * pixel_bytes + beside
    if not converting:
        return _FIXED_BYTES + decoding
    kept = pixels * 8 if image_format == "WEBP" else 0  # the decoder's two canvases
    shrinking = max(-(-width // scale), -(-height // scale)) > MAX_SIDE
    return _FIXED_BYTES + max(decoding, kept + decoded * (16 if shrinking else 8))


def _decode_scale(image: Image.Image) -> int:
    """1, or for a JPEG the 2, 4 or 8 it is decoded smaller by (Pillow's draft()), or MediaError.

    As small as shrinking it to MAX_SIDE later allows at no loss, and at least as small as
    MEMORY_BUDGET requires. Other formats decode at full size, or not at all.
    """
    scales = (1, 2, 4, 8) if image.format in _JPEG_FORMATS else (1,)
    longest = max(image.size)
    free = max(scale for scale in scales if scale == 1 or longest // scale >= MAX_SIDE)
    for scale in scales:
        if scale >= free and _memory_needed(image, converting=True, scale=scale) <= MEMORY_BUDGET:
            return scale
    raise _too_large(_format_read(image), image.mode, image.size, _memory_needed(image, converting=True, scale=scales[-1]))


def _too_large(image_format: str, mode: str, size: tuple[int, int], needed: int) -> MediaError:
    described = f"{image_format} {mode} {size[0]}x{size[1]}"
    limit = f"more than the {MEMORY_BUDGET // _MB} MB one photo may use"
    return MediaError(f"image too large to decode safely: {described} needs about {needed // _MB} MB, {limit}", permanent=True)


# --- Conversion -------------------------------------------------------------------


def _convert(image: Image.Image) -> PreparedImage:
    source_format, decoded_size = _format_read(image), image.size
    ImageOps.exif_transpose(image, in_place=True)
    working = _working_copy(image)
    transparent = working.mode == "RGBA"
    working = _resize_into_limits(working)
    output_format, content, result = _encode(working, transparent=transparent)
    logger.info("converted %s %s to %s %s", source_format, decoded_size, output_format, result.size)
    return _prepared(content, output_format, result.size, source_format=source_format, converted=True)


def _prepared(content: bytes, output_format: str, size: tuple[int, int], *, source_format: str, converted: bool) -> PreparedImage:
    return PreparedImage(
        content=content,
        content_type=Image.MIME[output_format],
        extension=_EXTENSIONS[output_format],
        width=size[0],
        height=size[1],
        source_format=source_format,
        converted=converted,
    )


def _working_copy(image: Image.Image) -> Image.Image:
    """image as RGBA if some pixel is not fully opaque, otherwise as RGB.

    When that takes a new image, image is closed as soon as it exists, so its pixels are
    not held while converting goes on: at most two full-size images live at once.
    """
    if image.mode.startswith("I") or image.mode == "F":
        mode = "RGBA" if _has_transparency(image) else "RGB"
        # 16/32-bit greyscale: convert() would clip everything above 255 to white, so scale first.
        working = _replacing(image, image.convert("I"))
        working = working.point(lambda value: value / 256)
        working = working.convert("L")
        return working.convert(mode)
    if image.has_transparency_data and "A" not in image.getbands():
        # A palette or colour-key transparency: RGBA first, and RGB after all if every pixel is opaque.
        working = _replacing(image, image.convert("RGBA"))
        return working if _has_transparency(working) else working.convert("RGB")
    mode = "RGBA" if _has_transparency(image) else "RGB"
    return image if image.mode == mode else _replacing(image, image.convert(mode))


def _replacing(image: Image.Image, new: Image.Image) -> Image.Image:
    image.close()  # releases its pixels now, though the caller may still hold the object
    return new


def _has_transparency(image: Image.Image) -> bool:
    """True if some pixel is not fully opaque (an alpha channel that is all 255 does not count)."""
    if not image.has_transparency_data:
        return False
    alpha = image.getchannel("A") if "A" in image.getbands() else image.convert("RGBA").getchannel("A")
    return cast("tuple[int, int]", alpha.getextrema())[0] < 255  # one band: a single (min, max) pair


def _resize_into_limits(image: Image.Image) -> Image.Image:
    width, height = image.size
    scale = 1.0
    if max(width, height) > MAX_SIDE:
        scale = MAX_SIDE / max(width, height)
    elif min(width, height) < MIN_SIDE:
        scale = MIN_SIDE / min(width, height)
    size = (_side(width, scale), _side(height, scale))
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def _side(length: int, scale: float) -> int:
    return min(MAX_SIDE, max(MIN_SIDE, round(length * scale)))


def _encode(image: Image.Image, *, transparent: bool) -> tuple[str, bytes, Image.Image]:
    """(format, bytes, image encoded): PNG if transparency matters and fits, otherwise a JPEG that fits."""
    if transparent:
        content = _save(image, "PNG")
        if content is not None:
            return "PNG", content, image
        image = _replacing(image, _flatten(image))
    content, image = _encode_jpeg_under_limit(image)
    return "JPEG", content, image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent pixels become white."""
    background = Image.new("RGB", image.size, "white")
    background.paste(image, mask=image.getchannel("A"))
    return background


def _encode_jpeg_under_limit(image: Image.Image) -> tuple[bytes, Image.Image]:
    """JPEG bytes within MAX_OUTPUT_BYTES, lowering the quality, then the size, until they fit."""
    while True:
        for quality in JPEG_QUALITIES:
            content = _save(image, "JPEG", quality=quality)
            if content is not None:
                return content, image
        size = (int(image.width * SHRINK_FACTOR), int(image.height * SHRINK_FACTOR))
        if min(size) < MIN_SIDE:
            raise MediaError(f"cannot encode under {MAX_OUTPUT_BYTES} bytes", permanent=True)
        image = image.resize(size, Image.Resampling.LANCZOS)


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes | None:
    """image encoded in fmt, or None as soon as the encoding grows past MAX_OUTPUT_BYTES."""
    buffer = _CappedBuffer()
    try:
        image.save(buffer, fmt, **options)
    except _OutputFull:
        return None
    return buffer.getvalue()


class _OutputFull(Exception):
    pass


class _CappedBuffer(io.BytesIO):
    """Refuses to grow past MAX_OUTPUT_BYTES, so an encoding that cannot fit stops early."""

    def write(self, data: Any, /) -> int:
        if self.tell() + memoryview(data).nbytes > MAX_OUTPUT_BYTES:
            raise _OutputFull
        return super().write(data)
