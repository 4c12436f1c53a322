"""The site as bench/load.py serves it under gunicorn: the real settings, plus a bare view.

Bench only: the bare view lives in bench/load_urls.py, never in the real site's urls.
"""

from imagebot_site.settings import *  # noqa: F403 - the real settings, unchanged but for the URLs

ROOT_URLCONF = "bench.load_urls"
