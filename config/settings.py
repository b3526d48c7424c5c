"""Settings for Connections, read from the environment (django-environ).

Every setting has a default that is safe for local use. With DEBUG off the app
refuses to start without SECRET_KEY and ENCRYPTION_KEYS; with DEBUG on it
generates development values once into var/dev-secrets.json (git-ignored).
"""

import base64
import json
import os
import re
import secrets
import sys
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# Local state: the SQLite database, development keys, the filesystem broker's queue.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)

KEY_HELP = (
    "Generate them with:\n"
    '  SECRET_KEY: python -c "import secrets; print(secrets.token_urlsafe(50))"\n'
    '  ENCRYPTION_KEYS: python -c "import base64, secrets; '
    "print('k1:' + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())\"\n"
    "ENCRYPTION_KEYS is a comma-separated list of <key id>:<base64 32-byte key>, newest first."
)


def _development_secrets() -> dict:
    """Generate development keys once and keep them, so encrypted data survives restarts."""
    path = VAR_DIR / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ENCRYPTION_KEYS": "dev1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    warnings.warn(
        f"DEBUG is on: generated development SECRET_KEY and ENCRYPTION_KEYS into {path}. "
        "Never use them in production.",
        stacklevel=1,
    )
    return values


_missing = [name for name in ("SECRET_KEY", "ENCRYPTION_KEYS") if not env.str(name, default="")]
if _missing and not DEBUG:
    raise ImproperlyConfigured(
        f"DEBUG is off and {', '.join(_missing)} {'is' if len(_missing) == 1 else 'are'} not set. " + KEY_HELP
    )
_dev = _development_secrets() if _missing else {}

SECRET_KEY = env.str("SECRET_KEY", default="") or _dev["SECRET_KEY"]
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[]) or _dev["ENCRYPTION_KEYS"].split(",")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Hosts that outbound requests may reach even though they resolve to a private
# address or are served over plain http (e.g. an on-premise CRM, a local test provider).
OUTBOUND_ALLOWLIST = env.list("OUTBOUND_ALLOWLIST", default=[])

REDIS_URL = env.str("REDIS_URL", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "core",
    "accounts",
    "integrations",
    "connections",
    "features",
]

MIDDLEWARE = [
    # Outermost: every answer carries X-Request-ID and is counted and timed (core/middleware.py).
    "core.middleware.RequestIdMiddleware",
    "core.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.RefuseUnstorableUrls",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.UserTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    # Innermost: a browser that came in through a connect link stays inside it (and its pages
    # may be framed by CONNECT_FRAME_ANCESTORS); see connections/connect/middleware.py.
    "connections.connect.middleware.ConnectSessionMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Connections are kept between requests on SQLite too: opening one (and its PRAGMAs) cost more
# than the whole of an API request's own query.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a concurrent writer (web + worker) instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    # A kept connection the server closed is replaced before a request uses it; core.postgresql
    # checks without a round trip (Django's own check runs SELECT 1 on every request).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "core.postgresql"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The hot paths' statements (core/prepared.py) are prepared on their first run on a connection;
    # Django's other queries are bound in the client and never prepared. `false` for a pooler
    # that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

if REDIS_URL:
    CACHES = {
        "default": {
            # A Redis outage makes it an empty cache (logged), never a failed request.
            "BACKEND": "core.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            # Fail within a second when Redis is down instead of holding the request.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            # Lets several deployments (or test runs) share one Redis database without meeting.
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

WHITENOISE_USE_FINDERS = DEBUG

# Request bodies: the JSON API refuses anything larger (413 in the envelope).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, 2_621_440)

# A proven API key is trusted this long without a query; revoking it ends that at once.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "core.api.renderers.OrjsonRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api.negotiation.JsonFirstContentNegotiation",
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.WriteRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"writes": env.str("API_WRITE_THROTTLE_RATE", default="600/min")},
    "EXCEPTION_HANDLER": "core.api.envelope.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.EnvelopeAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Connections API",
    "DESCRIPTION": (
        "Connect end users' accounts on third-party services, keep the credentials encrypted, "
        "test them and map features. Every error uses the envelope "
        '`{"success": false, "message": …, "error"?: …, "errors"?: […]}`. '
        "Authenticate with `Authorization: Bearer <API key>` or a session."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No validator badge: Swagger UI would fetch it from validator.swagger.io (another host).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_error_envelope_responses",
    ],
}

# Security headers. HTTPS-only settings are on whenever DEBUG is off.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# "None" (with https) only to let a host product on another site frame the connect pages.
SESSION_COOKIE_SAMESITE = env.str("SESSION_COOKIE_SAMESITE", default="Lax")
CSRF_COOKIE_SAMESITE = env.str("CSRF_COOKIE_SAMESITE", default="Lax")
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Logs (core/log_format.py): one line per record on stderr, with the request id (and the task on
# workers), secrets masked. LOG_FORMAT=json for log shippers; plain is easier to read in a terminal.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
# One line per web request (logger connections.access); off when a proxy logs them already.
ACCESS_LOG = env.bool("ACCESS_LOG", default=True)
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
# The DEBUG error page never shows credentials (core/debug.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.debug.CredentialHidingReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "core.log_format.PlainFormatter"},
        "json": {"()": "core.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "stream": sys.stderr}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Operating it (core/monitoring.py): /metrics answers a Bearer METRICS_TOKEN or a scraper in
# METRICS_ALLOWED_IPS (addresses or networks); with neither it is off. Probes may use plain http.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# A worker serves its own metrics on this port (0: off), for workers on machines without the web.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
# Workers and beat record a heartbeat this often; /readyz wants one from the last minute.
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=15)

# --- Celery (config/celery.py, core/tasks.py): Redis in production; with no REDIS_URL, Kombu's
# filesystem transport, so a real worker runs locally with no server to install.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
        # An unacknowledged task (its worker died) is handed out again after this long; it must
        # exceed the hard time limit so a task still running is never run twice.
        "visibility_timeout": 600,
    }
else:
    _celery_folder = Path(env.str("CELERY_FILESYSTEM_DIR", default=str(VAR_DIR / "celery")))
    for _sub in ("queue", "control"):
        (_celery_folder / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_folder / "queue"),
        "data_folder_out": str(_celery_folder / "queue"),
        "control_folder": str(_celery_folder / "control"),
        "polling_interval": 0.2,
    }
# Publishing must fail fast when the broker is down (the API answers 503), never hang.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 1,
}
# A worker starting before the broker keeps trying to connect.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=90)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Tasks mostly wait on the network (connection tests), so one worker runs many in threads.
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=50)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The queue the app's tasks go to and its workers consume (several deployments can share a Redis).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE

# --- Outbound HTTP (core/outbound_http.py): limits for every request to a user-supplied URL.
OUTBOUND_CONNECT_TIMEOUT = env.float("OUTBOUND_CONNECT_TIMEOUT", default=5.0)
OUTBOUND_READ_TIMEOUT = env.float("OUTBOUND_READ_TIMEOUT", default=10.0)
# Overall wall-clock limit for one request including redirects and reading the body.
OUTBOUND_DEADLINE = env.float("OUTBOUND_DEADLINE", default=20.0)
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=1024 * 1024)
OUTBOUND_MAX_REDIRECTS = env.int("OUTBOUND_MAX_REDIRECTS", default=5)

# --- Connection tests (connections/test_run_services.py, test_run_schedule.py, tasks.py): health over time.
# Active connections not tested for this many hours are re-tested by the beat schedule, at most
# CONNECTION_RETEST_BATCH_SIZE per tick, their starts spread over CONNECTION_RETEST_SPREAD_SECONDS.
CONNECTION_RETEST_HOURS = env.int("CONNECTION_RETEST_HOURS", default=24)
CONNECTION_RETEST_BATCH_SIZE = env.int("CONNECTION_RETEST_BATCH_SIZE", default=100)
CONNECTION_RETEST_EVERY_MINUTES = env.int("CONNECTION_RETEST_EVERY_MINUTES", default=10)
CONNECTION_RETEST_SPREAD_SECONDS = env.int("CONNECTION_RETEST_SPREAD_SECONDS", default=300)
# Workers record test results from many threads while the web serves pages. On SQLite (local
# use), write-ahead logging lets readers go on during a write and makes each commit cheap; without
# it writers queue behind every fsync (4x fewer tests per second in bench/bench_connection_tests.py).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
# This many failed tests in a row mark a connection "needs attention".
CONNECTION_ATTENTION_AFTER = env.int("CONNECTION_ATTENTION_AFTER", default=3)
# The sweeper sends a queued run again after this long (its message was lost, or the broker was
# down when it was queued) and gives up on it after CONNECTION_TEST_EXPIRE_MINUTES. It must exceed
# the retest spread, or delayed scheduled runs would be sent twice.
CONNECTION_TEST_REQUEUE_MINUTES = env.int("CONNECTION_TEST_REQUEUE_MINUTES", default=10)
CONNECTION_TEST_EXPIRE_MINUTES = env.int("CONNECTION_TEST_EXPIRE_MINUTES", default=60)
# How often the beat runs the sweeper.
CONNECTION_SWEEP_EVERY_SECONDS = env.int("CONNECTION_SWEEP_EVERY_SECONDS", default=60)
# Connections and test runs both have a "status": name their enums apart in the OpenAPI schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "ConnectionStatusEnum": "connections.models.Connection.Status",
    "CheckRunStatusEnum": "connections.models.CheckRun.Status",
}
# --- Sign-in connections (OAuth 2.0 authorization code, connections/oauth/).
# The address users reach this app at; the OAuth callback is PUBLIC_URL + /oauth/callback, the
# URL operators register at each provider. Empty: taken from the request (fine for local use).
PUBLIC_URL = env.str("PUBLIC_URL", default="").rstrip("/")
# Where a host product may send its users back after signing in (origins or URL prefixes).
OAUTH_RETURN_URL_ALLOWLIST = env.list("OAUTH_RETURN_URL_ALLOWLIST", default=[])
# Access tokens are refreshed before use when they expire within this many seconds.
OAUTH_REFRESH_MARGIN = env.int("OAUTH_REFRESH_MARGIN", default=300)
# Celery beat looks for tokens to refresh this often (seconds); see CELERY_BEAT_SCHEDULE.
OAUTH_REFRESH_EVERY_SECONDS = env.int("OAUTH_REFRESH_EVERY_SECONDS", default=60)
# The bundled catalog's OAuth apps from the environment: OAUTH_<INTEGRATION>_CLIENT_ID and
# OAUTH_<INTEGRATION>_CLIENT_SECRET, the integration id upper-cased with '-' as '_'
# (OAUTH_GOOGLE_SHEETS_CLIENT_ID). An app saved in admin or through the API wins.
OAUTH_CLIENTS = {
    match.group(1): {
        "clientId": os.environ[name],
        "clientSecret": os.environ.get(f"OAUTH_{match.group(1)}_CLIENT_SECRET", ""),
    }
    for name in sorted(os.environ)
    if (match := re.fullmatch(r"OAUTH_([A-Z0-9_]+)_CLIENT_ID", name)) and os.environ[name].strip()
}

# Beat's record of when each periodic task last ran; every local path follows VAR_DIR.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "refresh-oauth-tokens": {
        "task": "connections.oauth_refresh_due",
        "schedule": OAUTH_REFRESH_EVERY_SECONDS,
    },
    "retest-connections": {
        "task": "connections.retest_due",
        "schedule": CONNECTION_RETEST_EVERY_MINUTES * 60,
    },
    "sweep-connection-tests": {
        "task": "connections.sweep_test_runs",
        "schedule": CONNECTION_SWEEP_EVERY_SECONDS,
    },
}

# --- The proxy (connections/proxy.py): host products calling providers through a connection.
# Requests per connection, shared by every process through the cache: "<count>/<s|min|hour|day>".
PROXY_RATE = env.str("PROXY_RATE", default="60/min")
# Retries of a 429, a 5xx or a lost connection (idempotent methods, or with an Idempotency-Key).
PROXY_MAX_RETRIES = env.int("PROXY_MAX_RETRIES", default=2)
# Backoff before retry n (0-based): between half and all of PROXY_RETRY_BACKOFF * 2**n seconds.
PROXY_RETRY_BACKOFF = env.float("PROXY_RETRY_BACKOFF", default=0.5)
# A Retry-After longer than this is not waited for: the caller gets the 429 (or 503) to handle.
PROXY_RETRY_MAX_WAIT = env.float("PROXY_RETRY_MAX_WAIT", default=10.0)
PROXY_MAX_RESPONSE_BYTES = env.int("PROXY_MAX_RESPONSE_BYTES", default=5 * 1024 * 1024)

# --- Webhooks to the host product (connections/webhooks.py). Seconds to wait after each failed
# attempt before the next (the Standard Webhooks schedule: about 28 hours from the first attempt
# to the last); then the delivery is marked failed.
WEBHOOK_RETRY_SCHEDULE = [
    float(s)
    for s in env.list(
        "WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"]
    )
]
# Retries due sooner than this are queued with a countdown; later ones wait for the sweeper (a
# countdown past the broker's visibility timeout would be handed out twice).
WEBHOOK_QUEUED_RETRY_MAX_SECONDS = env.float("WEBHOOK_QUEUED_RETRY_MAX_SECONDS", default=300)
# This many deliveries in a row failing every attempt disable the endpoint.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=5)
CELERY_BEAT_SCHEDULE["sweep-webhook-deliveries"] = {
    "task": "connections.sweep_webhook_deliveries",
    "schedule": 60,
}
# --- Connect sessions (connections/connect/): a host product's one-time links into the wizard.
CONNECT_SESSION_MINUTES = env.int("CONNECT_SESSION_MINUTES", default=30)
# Where a connect session may send the browser back: origins, or origins with a path prefix.
CONNECT_RETURN_URL_ALLOWLIST = env.list("CONNECT_RETURN_URL_ALLOWLIST", default=[])
# Origins that may frame the connect pages (CSP frame-ancestors); empty: none may.
CONNECT_FRAME_ANCESTORS = env.list("CONNECT_FRAME_ANCESTORS", default=[])
# The public origin the links point at, when the API is called through another address.
CONNECT_BASE_URL = env.str("CONNECT_BASE_URL", default="")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\*\.[A-Za-z0-9.-]+(:\d{1,5})?$")
for _entry in CONNECT_FRAME_ANCESTORS:
    if not _ORIGIN.match(_entry) and _entry != "'self'":
        raise ImproperlyConfigured(
            f"CONNECT_FRAME_ANCESTORS: {_entry!r} is not an origin such as https://app.example.com"
        )
for _entry in CONNECT_RETURN_URL_ALLOWLIST:
    if not re.match(r"^https?://[^/\s]+", _entry):
        raise ImproperlyConfigured(
            f"CONNECT_RETURN_URL_ALLOWLIST: {_entry!r} is not a URL such as https://app.example.com/settings"
        )
