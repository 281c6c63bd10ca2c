"""Settings for every environment, driven by environment variables with local defaults.

Local defaults: SQLite in the repo, Redis and Kafka on 127.0.0.1 (started by `make services`).
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Off unless asked for: `make run` and the tests ask for local development with DEBUG=true.
DEBUG = env.bool("DEBUG", default=False)


def _secret_key_problem(key: str) -> str | None:
    """Why a key cannot sign sessions and JWTs in a deployment, or None. Anyone who knows the
    key can forge a login for any member, so a known or guessable one is refused."""
    if not key:
        return "is not set"
    if len(key) < 50:
        return f"is too short ({len(key)} characters; at least 50)"
    lowered = key.lower()
    if len(set(key)) < 5 or any(
        word in lowered for word in ("change-me", "changeme", "placeholder", "insecure")
    ):
        return "is a placeholder (such as the one in .env.example)"
    return None


def _not_negative(name: str, read, default, *, most=None):
    """A count, rate or duration from the environment, refused at start if negative, NaN or
    above ``most``: a negative linger failed the relay on every busy round, and an hour's
    linger would hold every batch for an hour."""
    value = read(name, default=default)
    if not value >= 0:
        raise ImproperlyConfigured(f"{name} must be a number of at least 0, not {value!r}")
    if most is not None and value > most:
        raise ImproperlyConfigured(f"{name} must be at most {most}, not {value!r}")
    return value


if DEBUG:  # local development only: a fixed key is fine where nothing is public
    SECRET_KEY = env("SECRET_KEY", default="dev-insecure-key-only-for-local-development")
else:
    SECRET_KEY = env("SECRET_KEY", default="")
    if problem := _secret_key_problem(SECRET_KEY):
        raise ImproperlyConfigured(
            f"SECRET_KEY {problem}. With DEBUG off it must be a long random secret: "
            'python3 -c "import secrets; print(secrets.token_urlsafe(50))"'
        )

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else environ.Env.NOTSET
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",  # refresh tokens can be taken back
    "axes",  # failed-login limits (accounts.lockout)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files (CSP, offline)
    "accounts",
    "notifications",
    "outbox",
    "deadletters",
    "chat",
    "comments",
    "uploads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "zzalu.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login axes refused into the 429 page (accounts.lockout.locked_out_response).
    "axes.middleware.AxesMiddleware",
]
# axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "zzalu.urls"
ASGI_APPLICATION = "zzalu.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "room-list"
LOGOUT_REDIRECT_URL = "room-list"

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
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, relay, sweeper) share the file: wait for the write lock instead of
    # failing, and take it at BEGIN so a read-then-write transaction cannot deadlock.
    # WAL with synchronous=NORMAL survives an app crash; an OS crash may lose the last commits
    # (chat can be rebuilt from Kafka). Production runs PostgreSQL.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: its password_changed hook takes back the member's refresh tokens.
    {"NAME": "accounts.passwords.RevokeTokensOnPasswordChange"},
]

LANGUAGE_CODE = "ko-kr"
# The project's own words for Django's and DRF's messages (one voice, "~요"); it comes before
# their catalogs. Compiled with msgfmt and committed (locale/ko/LC_MESSAGES/django.po).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `collectstatic` fills it (`make run`, the image); WhiteNoise serves it, DEBUG on or off.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app folders in development; `collectstatic` feeds STATIC_ROOT in images.
WHITENOISE_USE_FINDERS = DEBUG

# --- Uploads (uploads app): through Django's storage API -----------------------------------
# "filesystem": MEDIA_ROOT, served by the app under MEDIA_URL (and by nginx in compose);
# "s3": any S3-compatible store through django-storages (MEDIA_S3_*).
MEDIA_STORAGE = env("MEDIA_STORAGE", default="filesystem")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=10_000_000)
MEDIA_MAX_PIXELS = env.int("MEDIA_MAX_PIXELS", default=40_000_000)  # width x height of a frame
MEDIA_MAX_FRAMES = env.int("MEDIA_MAX_FRAMES", default=500)
MEDIA_MAX_TOTAL_PIXELS = env.int("MEDIA_MAX_TOTAL_PIXELS", default=50_000_000)  # all frames
MEDIA_SWEEP_GRACE_HOURS = env.int("MEDIA_SWEEP_GRACE_HOURS", default=24)
# Django keeps bigger request bodies in a temporary file, never in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
if MEDIA_STORAGE == "s3":
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("MEDIA_S3_BUCKET"),
            "endpoint_url": env("MEDIA_S3_ENDPOINT_URL", default=None),
            "access_key": env("MEDIA_S3_ACCESS_KEY_ID", default=None),
            "secret_key": env("MEDIA_S3_SECRET_ACCESS_KEY", default=None),
            "region_name": env("MEDIA_S3_REGION", default=None),
            "custom_domain": env("MEDIA_S3_CUSTOM_DOMAIN", default=None),
            "querystring_auth": False,  # public images, stable URLs
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
elif MEDIA_STORAGE == "filesystem":
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be filesystem or s3, not {MEDIA_STORAGE!r}")
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Redis: channel layer, shared cache (throttles), rate limits, presence -----------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# "pubsub" (RedisPubSubChannelLayer) or "core" (RedisChannelLayer); see docs/decisions.
CHANNEL_LAYER_BACKEND = env("CHANNEL_LAYER_BACKEND", default="pubsub")
# Namespace for every Redis key and channel of this deployment (tests use their own).
REDIS_PREFIX = env("CHANNEL_LAYER_PREFIX", default="zzalu")
_LAYER_CLASSES = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _LAYER_CLASSES[CHANNEL_LAYER_BACKEND],
        "CONFIG": {
            "hosts": env.list("CHANNEL_LAYER_HOSTS", default=[REDIS_URL]),
            "prefix": REDIS_PREFIX,
        },
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_PREFIX", default="zzalu"),
    }
}

# --- Kafka ------------------------------------------------------------------------------
KAFKA_BOOTSTRAP_SERVERS = env.list("KAFKA_BOOTSTRAP_SERVERS", default=["127.0.0.1:9092"])
# Lets tests and benchmarks run on their own topics in a shared broker.
KAFKA_TOPIC_PREFIX = env("KAFKA_TOPIC_PREFIX", default="")
KAFKA_TOPICS = {
    "chat": {
        "name": KAFKA_TOPIC_PREFIX + "chat.events",
        "partitions": env.int("KAFKA_CHAT_PARTITIONS", default=6),
    },
    "hakwon": {
        "name": KAFKA_TOPIC_PREFIX + "hakwon.events",
        "partitions": env.int("KAFKA_HAKWON_PARTITIONS", default=3),
    },
    "notifications": {
        "name": KAFKA_TOPIC_PREFIX + "notifications.events",
        "partitions": env.int("KAFKA_NOTIFICATIONS_PARTITIONS", default=3),
    },
}
KAFKA_REPLICATION_FACTOR = env.int("KAFKA_REPLICATION_FACTOR", default=1)
KAFKA_MIN_INSYNC_REPLICAS = env.int("KAFKA_MIN_INSYNC_REPLICAS", default=1)
KAFKA_RETENTION_MS = env.int("KAFKA_RETENTION_MS", default=7 * 24 * 3600 * 1000)
KAFKA_RELAY_GROUP = env("KAFKA_RELAY_GROUP", default=KAFKA_TOPIC_PREFIX + "zzalu-relay")
# How long a sender waits for the broker before being told `unavailable`.
KAFKA_ACK_TIMEOUT = env.float("KAFKA_ACK_TIMEOUT", default=5.0)
KAFKA_LINGER_MS = env.int("KAFKA_LINGER_MS", default=2)
# The relay commits handled offsets at most this often (0: after every batch).
KAFKA_RELAY_COMMIT_INTERVAL_MS = env.int("KAFKA_RELAY_COMMIT_INTERVAL_MS", default=200)
# The largest record the app produces (the broker's default message.max.bytes): a dead letter
# must fit any record the broker took from anyone.
KAFKA_MAX_RECORD_BYTES = env.int("KAFKA_MAX_RECORD_BYTES", default=1048588)

# --- Workers (relay, outbox sweeper, hakwon scheduler) ----------------------------------
# A record that fails alone this many times, while the database and Redis answer, is a
# poison record: it goes to `<topic>.dlq` and the relay moves past it.
RELAY_POISON_ATTEMPTS = env.int("RELAY_POISON_ATTEMPTS", default=2)
# While records come at about RELAY_BATCH_LINGER_RATE a second or more, a relay batch waits
# for more: as long as RELAY_BATCH_TARGET_RECORDS take to come at that rate, at most
# RELAY_BATCH_LINGER_MS after its first record (at 100 a second the 100 ms, at 200 ~70 ms, at
# 400 ~35 ms; a target of 0 or 1 never waits). Each batch costs the same statements, commit and
# round trips (database, Redis, Kafka) whatever it holds. Slower, a record goes at once (the
# rate is a count that forgets by e every 0.25 s, so a burst counts a moment after it ends:
# ~1 s after 500 records). docs/decisions/0015, 0017, 0018.
RELAY_BATCH_LINGER_MS = _not_negative("RELAY_BATCH_LINGER_MS", env.int, 100, most=5000)
RELAY_BATCH_LINGER_RATE = _not_negative("RELAY_BATCH_LINGER_RATE", env.float, 50.0)
RELAY_BATCH_TARGET_RECORDS = _not_negative("RELAY_BATCH_TARGET_RECORDS", env.int, 15)
# An outbox row the broker refused this many times is marked dead; the next rows go on.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=5)
# Workers beat in Redis after every round that worked; /readyz calls an older beat stale.
WORKER_HEARTBEAT_STALE_SECONDS = env.float("WORKER_HEARTBEAT_STALE_SECONDS", default=30.0)
# Each worker serves Prometheus metrics on its own port (0: none). The web serves /metrics.
RELAY_METRICS_PORT = env.int("RELAY_METRICS_PORT", default=9101)
SWEEPER_METRICS_PORT = env.int("SWEEPER_METRICS_PORT", default=9102)
SCHEDULER_METRICS_PORT = env.int("SCHEDULER_METRICS_PORT", default=9103)

# --- Chat -------------------------------------------------------------------------------
CHAT_RATE_PER_SEC = env.float("CHAT_RATE_PER_SEC", default=5.0)
CHAT_RATE_BURST = env.int("CHAT_RATE_BURST", default=10)
CHAT_MAX_FRAME_BYTES = 16 * 1024
CHAT_EDIT_WINDOW_SECONDS = env.int("CHAT_EDIT_WINDOW_SECONDS", default=600)
CHAT_HISTORY_PAGE = 50
CHAT_HISTORY_MAX = 200
PRESENCE_TTL_SECONDS = env.int("PRESENCE_TTL_SECONDS", default=60)
SOCKET_HEARTBEAT_SECONDS = env.float("SOCKET_HEARTBEAT_SECONDS", default=20.0)
# Concurrent sockets (chat and hakwon together, across every server process): per member, and
# per client address for anonymous sockets. The next one is closed with 4429.
SOCKET_LIMIT_PER_MEMBER = env.int("SOCKET_LIMIT_PER_MEMBER", default=20)
SOCKET_LIMIT_ANONYMOUS_PER_ADDRESS = env.int("SOCKET_LIMIT_ANONYMOUS_PER_ADDRESS", default=50)
# A socket replays at most this many missed messages; older ones are offered as a `chat.gap`.
CHAT_CATCH_UP_LIMIT = env.int("CHAT_CATCH_UP_LIMIT", default=500)
# Modules whose `websocket_urlpatterns` the ASGI app serves (the benchmark's settings add one).
WEBSOCKET_ROUTES = ["chat.routing", "comments.routing", "notifications.routing"]

# --- Title-hakwon -----------------------------------------------------------------------
HAKWON_TIME_ZONE = env("HAKWON_TIME_ZONE", default="Asia/Seoul")
# An http(s) image for a day the scheduler creates without one; empty: the image the project
# ships (static/img/hakwon-default.gif), which needs no network.
HAKWON_DEFAULT_IMAGE_URL = env("HAKWON_DEFAULT_IMAGE_URL", default="")

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # JSON and plain forms only: the schema offers no multipart (uploads have their own view).
    "DEFAULT_PARSER_CLASSES": [
        "zzalu.api.JSONParser",  # DRF's, with too-deep nesting a 400
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "zzalu.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    # Proxies in front that append to X-Forwarded-For (1 behind compose's nginx); 0 trusts
    # only the socket's address, so clients cannot pick their own throttle bucket.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_THROTTLE_CLASSES": ["zzalu.api.AnonReadThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "writes": env("API_WRITE_THROTTLE", default="120/min"),
        "signup": env("API_SIGNUP_THROTTLE", default="30/hour"),
        # Reads by anonymous clients, per address (zzalu.api.AnonReadThrottle).
        "anon_reads": env("API_ANON_READ_THROTTLE", default="300/min"),
        "uploads": env("API_UPLOAD_THROTTLE", default="30/hour"),
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    # Each refresh answers a new refresh token and blacklists the old one; logout and a
    # password change blacklist all of a member's (accounts.services.refresh_tokens_revoke).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "TOKEN_REFRESH_SERIALIZER": "accounts.serializers.TokenRefreshSerializer",
}

# --- Password guessing (django-axes; see accounts/lockout.py) -----------------------------
# The API token, the login page and the admin login answer 429 after this many failures from
# one address for one account, or from one address in all, until LOGIN_LOCKOUT_MINUTES have
# passed since the last counted failure (tries refused meanwhile do not count).
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=10)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=50)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_HANDLER = "accounts.lockout.LoginFailureHandler"  # counts in the Redis cache
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_FAILURE_LIMIT = LOGIN_FAILURES_PER_ACCOUNT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True  # the per-account count; the per-address one stays
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"  # as the DRF throttles (NUM_PROXIES)
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out_response"
AXES_ENABLE_ADMIN = False  # its tables stay empty with the cache handler
AXES_VERBOSE = False
SPECTACULAR_SETTINGS = {
    "TITLE": "Zzalu Realtime API",
    "DESCRIPTION": "Chat rooms and the daily title-hakwon. Live updates travel over WebSockets; "
    "see docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # zzalu/converters.py: a row id in a path, at most 18 digits (longer ones are a 404).
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}
    },
}

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "zzalu.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env("LOG_FORMAT", default="plain"),
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "zzalu": {"level": LOG_LEVEL},
        "chat": {"level": LOG_LEVEL},
        "comments": {"level": LOG_LEVEL},
        "accounts": {"level": LOG_LEVEL},
        "kafka": {"level": "ERROR"},
    },
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)
    # Only when every subdomain is served over TLS too: the deployer's call.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
