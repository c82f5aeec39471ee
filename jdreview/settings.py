"""Settings, read from the environment.

With nothing set, jdreview runs on its embedded default: SQLite under ``var/`` and a Celery
broker kept in a SQLite file (kombu's SQLAlchemy transport), so no server is needed.
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` switch to the production stack.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from jdreview.env import env_bool, env_int, env_list, env_str
from jdreview.security import DEFAULT_POLICY as DEFAULT_CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("JDREVIEW_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("JDREVIEW_REQUIRE_SECRET", False):
        raise ImproperlyConfigured("SECRET_KEY must be set when JDREVIEW_REQUIRE_SECRET=1")
    # A per-checkout key, so the embedded default works out of the box without sharing one.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

# Behind TLS (the production set-up in the README): cookies only over HTTPS, HSTS, and the
# proxy's X-Forwarded-Proto trusted to say the request came in over HTTPS.
HTTPS = env_bool("JDREVIEW_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = env_str("CONTENT_SECURITY_POLICY", DEFAULT_CSP)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "jdreview",
    "labeling",
    "rewards",
    "workers",
    # The loops: each registers itself (jdreview.loops) when its app is ready.
    "workers.imagegen",
    "workers.qe",
    "workers.agents",
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before the host check, sessions and the outage path:
    # a load balancer probes by address, and a probe must not need what it is probing.
    "jdreview.health.HealthProbeMiddleware",
    # An id for every request, in its response, its log lines and its jobs; one log line.
    "jdreview.requestid.RequestIdMiddleware",
    # Times the rest of the stack by resolved view; reads nothing of the request. Takes
    # itself out without a METRICS_TOKEN (jdreview/metrics.py).
    "jdreview.metrics.RequestMetricsMiddleware",
    # So an oversized body is refused before anything reads it.
    "jdreview.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "jdreview.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A database or broker restart answers 503 + Retry-After, not 500 (jdreview/outage.py).
    "jdreview.outage.OutageMiddleware",
]

ROOT_URLCONF = "jdreview.urls"
WSGI_APPLICATION = "jdreview.wsgi.application"

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
                "jdreview.context_processors.roles",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
if _database_url:
    try:
        # Health checks: a persistent connection that a database restart broke is replaced
        # at the start of the next request instead of failing it.
        DATABASES = {
            "default": dj_database_url.parse(
                _database_url, conn_max_age=60, conn_health_checks=True
            )
        }
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if DATABASES["default"]["ENGINE"] not in (
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    ):
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (or SQLite)")
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "jdreview.sqlite3"),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so two requests that both
    # claim queue items are serialised instead of failing with "database is locked" midway.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-jdreview.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
_xdist_worker = env_str("PYTEST_XDIST_WORKER")  # "gw0", "gw1": the test suite's workers
if REDIS_URL and _xdist_worker.startswith("gw"):
    # Each test worker gets a Redis database of its own, as it gets a test database of its
    # own: one worker's cache flush or Celery message must never reach the other's. The
    # suite's URL names the highest database; workers count down from it.
    _base, _, _db = REDIS_URL.rpartition("/")
    if _db.isdigit():
        REDIS_URL = f"{_base}/{int(_db) - int(_xdist_worker[2:])}"
CELERY_BROKER_URL = REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
# A Redis that is down refuses at once, but one that is unreachable or hung would hold a
# publish (and the web request behind it) for the OS's TCP timeouts. The worker's BRPOP is
# read only when its socket is readable, so the read timeout does not cut it short.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"socket_connect_timeout": 1, "socket_timeout": 1} if REDIS_URL else {}
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve static files straight from the app folders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "/media/"
# Set to an internal location of the web server (nginx: `location /_protected/ { internal;
# alias <MEDIA_ROOT>/; }`) to let it send private files after the app has checked access.
MEDIA_ACCEL_REDIRECT = env_str("MEDIA_ACCEL_REDIRECT")
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Upload limits. Per image (checked in labeling.uploads before anything is stored): bytes,
# pixels, longest side, and longest side over shortest (10 means 10:1).
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000, minimum=64)
UPLOAD_MAX_SIDE = env_int("UPLOAD_MAX_SIDE", 8192, minimum=16)
UPLOAD_MAX_ASPECT = env_int("UPLOAD_MAX_ASPECT", 10, minimum=1)
# Per request, refused with 413 before the body is read (jdreview.middleware): room for a
# manifest import of six images at the per-image limit, or dozens of ordinary ads.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 64 * 1024 * 1024, minimum=UPLOAD_MAX_BYTES)
# Non-file data may be as large as the request: a Label Studio import can be one JSON body
# of tasks with inline images. Files over Django's default 2.5 MB are parsed into
# temporary files rather than memory, since the import reads them all into memory anyway.
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's own, but JSON that nests too deep is a 400 (DRF's crashes with a RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "jdreview.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "jdreview.api.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "jdreview.api.exception_handler",
    # `?format=` names an export format in this API, not a renderer.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "jdreview API",
    "DESCRIPTION": "Review and training workbench for e-commerce ad content.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Where trained model artifacts live (save_pretrained folders / safetensors files).
ARTIFACT_ROOT = Path(env_str("JDREVIEW_ARTIFACT_ROOT", str(VAR_DIR / "artifacts")))
# Fluent Emoji 3D cut-outs, installed by npm (see package.json and ATTRIBUTION.md).
EMOJI_ASSET_DIR = Path(
    env_str("JDREVIEW_EMOJI_DIR", str(BASE_DIR / "node_modules/@lobehub/fluent-emoji-3d/assets"))
)
# A running job whose worker has not reported for this long is declared dead.
JOB_HEARTBEAT_TIMEOUT_S = env_int("JOB_HEARTBEAT_TIMEOUT_S", 120, minimum=5)
# A queued job that no worker claimed this long after it was sent is sent again (its
# message never reached the broker, or the broker lost it); see workers.services.
JOB_REDISPATCH_AFTER_S = env_int("JOB_REDISPATCH_AFTER_S", 30, minimum=1)
# /readyz: a queue's worker or beat not seen for this long fails its check (beat sends each
# queue a heartbeat task every 10 s; jdreview/celery.py).
READYZ_HEARTBEAT_MAX_AGE_S = env_int("READYZ_HEARTBEAT_MAX_AGE_S", 60, minimum=15)
# Query expansion: the search engine that serves it, and the local folder of the `full`
# language model (nothing is downloaded).
QE_SEARCH_BACKEND = env_str("QE_SEARCH_BACKEND", "bm25")
if QE_SEARCH_BACKEND not in ("bm25", "postgres"):
    raise ImproperlyConfigured(
        f"QE_SEARCH_BACKEND must be 'bm25' or 'postgres', not {QE_SEARCH_BACKEND!r}"
    )
QE_FULL_MODEL_PATH = env_str("QE_FULL_MODEL_PATH")
# The `full` ad-image generator: a local diffusers inpainting pipeline folder (GPU).
GENERATOR_FULL_PIPELINE_PATH = env_str("GENERATOR_FULL_PIPELINE_PATH")

# GET /metrics (Prometheus) answers only to "Authorization: Bearer <METRICS_TOKEN>"; with
# none set it is a 404 and nothing is recorded. Every gunicorn and Celery process writes its
# series into one folder (prometheus-client's multiprocess mode, which reads the variable
# from the environment when it is first imported: set here, before that).
METRICS_TOKEN = env_str("METRICS_TOKEN")
PROMETHEUS_MULTIPROC_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus")))
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)

# text (a person reads it) or json (one object a line, for a log search); see jdreview/logs.py.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "jdreview.logs.ContextFilter"}},
    "formatters": {
        "text": {"()": "jdreview.logs.TextFormatter"},
        "json": {"()": "jdreview.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    # A line per request and per job step: always in JSON, where a search finds them; in
    # text from LOG_LEVEL=INFO (gunicorn's access log already shows requests).
    "loggers": (
        {name: {"level": "INFO"} for name in ("jdreview.requests", "jdreview.jobs")}
        if LOG_FORMAT == "json"
        else {}
    ),
}
