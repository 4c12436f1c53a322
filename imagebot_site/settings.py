"""Django settings, read from the environment (see README, "Configuration").

Only what Django itself needs at start-up lives here; the bot's own settings are
read when used, through bot/conf.py.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from bot.conf import LOG_LEVEL, env_bool, env_list, env_str, on_lambda

BASE_DIR = Path(__file__).resolve().parent.parent

# DEBUG only where a developer asked for it (`make run` does); never by default.
DEBUG = env_bool("DJANGO_DEBUG", default=False)

# Unset, the site answers only this machine's own names: a developer's machine.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")
ALLOWED_HOSTS = list(env_list("DJANGO_ALLOWED_HOSTS", LOCAL_HOSTS))
LOCAL_ONLY = set(ALLOWED_HOSTS) <= set(LOCAL_HOSTS)

if DEBUG and (not LOCAL_ONLY or on_lambda()):
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is for a developer's machine: leave DJANGO_ALLOWED_HOSTS unset (or local names only), and off Lambda"
    )

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not LOCAL_ONLY or on_lambda():
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when the site answers other hosts than this machine's own (DJANGO_ALLOWED_HOSTS),"
            " and always on Lambda"
        )
    SECRET_KEY = "imagebot-dev-only-insecure-key"  # noqa: S105 - only for a site that answers localhost alone

CSRF_TRUSTED_ORIGINS = list(env_list("DJANGO_CSRF_TRUSTED_ORIGINS", ()))
# Admin cookies travel over HTTPS only, except on a developer's machine.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not (DEBUG and LOCAL_ONLY)

# Error pages and mails never show a secret, DEBUG or not (imagebot_site/reporting.py).
DEFAULT_EXCEPTION_REPORTER = "imagebot_site.reporting.SecretsReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "imagebot_site.reporting.SecretsFilter"

INSTALLED_APPS = [
    "imagebot_site.apps.AdminConfig",  # django.contrib.admin, registered with its URLs rather than at start-up
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "bot",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The admin's and the API's static files, from STATIC_ROOT (collected into the Lambda
    # package by `make package`), before anything else touches the request: WhiteNoise,
    # set up on the first request for one (imagebot_site/middleware.py).
    "imagebot_site.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "imagebot_site.urls"
WSGI_APPLICATION = "imagebot_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL in production (DATABASE_URL). SQLite cannot work on Lambda: each execution
# environment has its own /tmp, lost when it ends, and /var/task is read-only. A warm Lambda
# keeps its connection for CONN_MAX_AGE seconds between invocations (checked before reuse).
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Background dispatch threads write too. Transactions take the write lock when they
    # begin, so none can fail halfway with "database is locked", and wait up to 20 s for
    # it; WAL lets readers (the admin) go on meanwhile and makes each commit cheaper.
    # Each thread keeps its connection (CONN_MAX_AGE above), so the PRAGMAs run once per
    # connection, not once per request.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` writes here; WhiteNoise serves it (on Lambda, from the package).
STATIC_ROOT = BASE_DIR / "staticfiles"
# The path WhiteNoise answers, as the function sees it: said outright rather than read from
# STATIC_URL at start-up, which Django gives the script prefix of the moment (on API
# Gateway's own host the stage's path, /dev/, comes before it).
WHITENOISE_STATIC_PREFIX = "/static/"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("IMAGEBOT_MEDIA_ROOT", str(BASE_DIR / "media")))

# Photos: S3 through django-storages when a bucket is named, the local media folder otherwise.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or env_str("AWS_ENDPOINT_URL")
    AWS_S3_REGION_NAME = env_str("AWS_REGION") or env_str("AWS_DEFAULT_REGION")
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_S3_FILE_OVERWRITE = True
    default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The read-only API (bot/api/, README "REST API"). A token first, so a request without
# credentials is answered 401 with `WWW-Authenticate: Token`; the session is for the
# browsable API and the docs page after logging in to the admin. No Basic auth: scripts
# carry a token they can lose, not a password.
REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Per user, counted in the default cache (per process: on Lambda, per warm instance).
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": "120/minute"},
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "imagebot API",
    "DESCRIPTION": "The bot's records, read-only: tweets, their photos, labels and replies; label statistics; deliveries.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "TweetStatusEnum": "bot.models.Tweet.Status",
        "PhotoStatusEnum": "bot.models.Photo.Status",
        "ReplyStatusEnum": "bot.models.Reply.Status",
    },
    # Swagger UI's files come from drf-spectacular-sidecar through staticfiles, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # A bad IMAGEBOT_LOG_LEVEL must not crash logging's set-up: INFO until the start-up check refuses it in one line.
    "loggers": {"bot": {"handlers": ["console"], "level": LOG_LEVEL.read() if LOG_LEVEL.problem() is None else "INFO"}},
}
