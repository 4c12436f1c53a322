"""WhiteNoise, set up on the first request for a static file rather than on every start."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

Handler = Callable[[HttpRequest], HttpResponseBase]


class StaticFilesMiddleware:
    """WhiteNoise's middleware for the paths under WHITENOISE_STATIC_PREFIX; every other path
    goes straight on, as WhiteNoise itself would send it on.

    WhiteNoise reads all of STATIC_ROOT (every file's size and headers) when it is built,
    which Django does for each middleware at start-up: about a tenth of a Lambda cold
    start's set-up, for files only the operator's pages ask for. Built here on the first
    request under the prefix instead, once per process. (WHITENOISE_AUTOREFRESH would skip
    that read too, but looks for each file on every request: WhiteNoise says it is for
    development only.) WHITENOISE_ROOT, which serves files at any path, is not used.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.prefix: str = settings.WHITENOISE_STATIC_PREFIX
        self.whitenoise: Handler | None = None
        self.lock = threading.Lock()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith(self.prefix):
            return self.get_response(request)
        return self.static_files()(request)

    def static_files(self) -> Handler:
        if self.whitenoise is None:
            with self.lock:  # one read of STATIC_ROOT, whichever thread asks first
                if self.whitenoise is None:
                    from whitenoise.middleware import WhiteNoiseMiddleware  # type: ignore[import-untyped] # WhiteNoise ships no types

                    self.whitenoise = WhiteNoiseMiddleware(self.get_response)
        return self.whitenoise
