"""mailhub settings: every value comes from the environment (or a .env file) with a safe default.

Each setting read here is documented in `.env.example`.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The development key is public: with DEBUG off it is the `mailhub.E002` check error, and the
# web app and the workers refuse to start (with DEBUG on it is the warning `mailhub.W002`).
DEV_SECRET_KEY = "django-insecure-mailhub-development-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="") or DEV_SECRET_KEY
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "mailhub.apps.MailhubAdminConfig",  # django.contrib.admin, with mailhub's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_rq",
    "axes",
    "ninja",  # serves the API docs page's scripts locally instead of from a CDN
    "mailhub.apps.MailhubConfig",
    "recipients",
    "campaigns",
    "queueing",
    "audit",
]

MIDDLEWARE = [
    # Before everything: /healthz and /readyz answer probes that call a node by its address
    # over plain HTTP, and are never a login attempt (mailhub/health.py).
    "mailhub.health.HealthMiddleware",
    # Then, so every answer under /api (redirects and refusals included) is JSON.
    "mailhub.api_middleware.ApiJsonMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mailhub.login_throttle.LoginThrottleMiddleware",
    # Last, as django-axes requires: it turns a lock-out into its answer.
    "axes.middleware.AxesMiddleware",
]

# django-axes checks every login against its lock-outs before the password is tried.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "mailhub.urls"
WSGI_APPLICATION = "mailhub.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": environ.Env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and several workers share one file: WAL lets readers run beside a writer,
    # IMMEDIATE takes the write lock at BEGIN (no deadlocking lock upgrades), and the timeout
    # makes a writer wait for the lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.float("SQLITE_BUSY_TIMEOUT", default=30.0),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # A database host that drops packets must not hold a web thread (or /readyz) for the
    # minutes TCP takes to give up.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    # Parameters are sent apart from the statement text instead of being quoted into it by
    # the client, and a statement run five times on a connection is prepared once: the send
    # path's statements repeat per batch with 100-odd parameters each (docs/PERFORMANCE.md).
    # Off behind a pooler that cannot keep prepared statements (PgBouncer in transaction mode
    # before 1.21).
    if env.bool("DATABASE_SERVER_SIDE_BINDING", default=True):
        DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files served at the site's root by WhiteNoise (browsers ask for /favicon.ico on every page).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (on by default whenever DEBUG is off) ----------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Internal callers may use plain HTTP on these paths (/healthz and /readyz are answered
# before the redirect, by mailhub.health).
SECURE_REDIRECT_EXEMPT = [r"^api/", r"^webhooks/"]

# --- Admin login throttling (django-axes, plus mailhub.login_throttle) --------------------
# Failures are counted per client address and per username, in the database.
MAILHUB_LOGIN_SLOW_AFTER = env.int("MAILHUB_LOGIN_SLOW_AFTER", default=3)
AXES_FAILURE_LIMIT = env.int("MAILHUB_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("MAILHUB_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_CLIENT_IP_CALLABLE = "mailhub.login_throttle.client_ip"
AXES_LOCKOUT_TEMPLATE = "admin/login_locked.html"
AXES_VERBOSE = False

# --- Redis and RQ --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Workers serve them in this order: mail people wait for, then Resend's events (webhooks),
# then campaigns.
RQ_QUEUES = {
    "transactional": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
    # Provider events (webhooks) are applied here: after transactional mail, before bulk.
    "events": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
    "bulk": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
}
# The worker class runs the reconciler between jobs, so `rqworker` needs no companion process.
RQ = {"WORKER_CLASS": "queueing.worker.MailhubWorker"}
RQ_SHOW_ADMIN_LINK = True

# --- Email provider ------------------------------------------------------------------------
# The class that sends (queueing.provider.Provider); Resend is the one mailhub ships.
MAILHUB_PROVIDER = env.str("MAILHUB_PROVIDER", default="queueing.resend.provider.ResendProvider")

# --- Resend --------------------------------------------------------------------------------
RESEND_API_KEY = env.str("RESEND_API_KEY", default="")
RESEND_API_URL = env.str("RESEND_API_URL", default="https://api.resend.com").rstrip("/")
# Seconds to wait for Resend to connect / to answer; no request is ever made without both.
RESEND_CONNECT_TIMEOUT = env.float("RESEND_CONNECT_TIMEOUT", default=5.0)
RESEND_READ_TIMEOUT = env.float("RESEND_READ_TIMEOUT", default=20.0)
# Requests per second for the whole fleet (Resend limits requests, not emails); 0 = no limit.
RESEND_RATE_LIMIT = env.float("RESEND_RATE_LIMIT", default=2.0)
# Extra spacing between requests, as a share of 1/rate, so network jitter cannot push two
# requests into one window as Resend sees it.
RESEND_RATE_LIMIT_MARGIN = env.float("RESEND_RATE_LIMIT_MARGIN", default=0.05)

# "permissive": Resend accepts the valid emails of a batch and names the invalid ones;
# "strict": one invalid email refuses the batch, and mailhub then sends each member alone.
RESEND_BATCH_VALIDATION = env.str("RESEND_BATCH_VALIDATION", default="permissive")

# Resend's webhooks (POST /webhooks/resend): the signing secrets (`whsec_...`), several while
# one is being rotated; empty refuses every webhook. Bodies larger than the limit (bytes) are
# refused before anything is read into memory (Resend's events are a few KiB).
# Seconds a processing job waits for more webhooks when less than half a batch is waiting
# (a burst is applied in batches, not a few events at a time); 0 = never wait.
MAILHUB_EVENTS_GATHER_SECONDS = env.float("MAILHUB_EVENTS_GATHER_SECONDS", default=0.25)
RESEND_WEBHOOK_SECRETS = [
    s.strip() for s in env.list("RESEND_WEBHOOK_SECRETS", default=[]) if s.strip()
]
RESEND_WEBHOOK_MAX_BYTES = env.int("RESEND_WEBHOOK_MAX_BYTES", default=256 * 1024)
# Processing stored webhooks in the workers: events per batch (one transaction each), seconds
# an event may wait unprocessed before the reconciler asks for processing again, and attempts
# before a failing event waits for `manage.py reprocess_webhook_events`.
MAILHUB_EVENTS_BATCH = env.int("MAILHUB_EVENTS_BATCH", default=500)
MAILHUB_EVENTS_STALE_SECONDS = env.float("MAILHUB_EVENTS_STALE_SECONDS", default=30.0)
MAILHUB_EVENTS_MAX_ATTEMPTS = env.int("MAILHUB_EVENTS_MAX_ATTEMPTS", default=3)

# --- mailhub -------------------------------------------------------------------------------
MAILHUB_DEFAULT_FROM = env.str("MAILHUB_DEFAULT_FROM", default="mailhub <mailhub@example.com>")
# Sender domains that `from` must use; empty means any domain.
MAILHUB_ALLOWED_SENDER_DOMAINS = [
    d.lower() for d in env.list("MAILHUB_ALLOWED_SENDER_DOMAINS", default=[])
]
# Resend accepts up to 40 MB per email after base64 encoding; keep well under it.
MAILHUB_MAX_ATTACHMENTS_BYTES = env.int("MAILHUB_MAX_ATTACHMENTS_BYTES", default=10 * 1024 * 1024)
# The HTTP API's largest request body: Resend's 40 MB per email once base64-encoded, plus room
# for the JSON around it. Only /api; the admin keeps DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
MAILHUB_API_MAX_BODY_BYTES = env.int("MAILHUB_API_MAX_BODY_BYTES", default=42 * 1024 * 1024)
# One message's size as Resend counts it (html + text + attachments after base64), refused
# when the message is created; capped at Resend's own limit, 40 MB (queueing/resend/limits.py).
MAILHUB_MAX_MESSAGE_BYTES = env.int("MAILHUB_MAX_MESSAGE_BYTES", default=40_000_000)
# How far ahead a message may be scheduled (mailhub holds it until then, not Resend).
MAILHUB_MAX_SCHEDULE_DAYS = env.int("MAILHUB_MAX_SCHEDULE_DAYS", default=365)
MAILHUB_MAX_ATTEMPTS = env.int("MAILHUB_MAX_ATTEMPTS", default=8)
MAILHUB_RETRY_BASE_SECONDS = env.float("MAILHUB_RETRY_BASE_SECONDS", default=5.0)
MAILHUB_RETRY_MAX_SECONDS = env.float("MAILHUB_RETRY_MAX_SECONDS", default=1800.0)
# How long a worker's claim on a message lasts before the reconciler may hand it to another.
MAILHUB_LEASE_SECONDS = env.float("MAILHUB_LEASE_SECONDS", default=60.0)
MAILHUB_RECONCILE_INTERVAL = env.float("MAILHUB_RECONCILE_INTERVAL", default=5.0)
# Resend forgets idempotency keys after 24 h; stop retrying with a margin before that.
MAILHUB_RETRY_WINDOW_SECONDS = env.float("MAILHUB_RETRY_WINDOW_SECONDS", default=23 * 3600)
MAILHUB_POSTAL_ADDRESS = env.str("MAILHUB_POSTAL_ADDRESS", default="")
# Retention (manage.py purge_messages, and a run inside the workers at most once per
# MAILHUB_PURGE_INTERVAL seconds across the fleet, for at most MAILHUB_PURGE_STEP_SECONDS; 0 =
# no periodic run). Ages are durations (90d, 12w, 24h): messages older than MAILHUB_PURGE_AFTER
# lose bodies, headers and attachments; those older than MAILHUB_PURGE_DELETE_AFTER may be deleted
# (by `--delete`, or by the workers' run only with MAILHUB_PURGE_PERIODIC_DELETE; "never": kept),
# and nothing deletes younger ones. No age under the retry window plus a day (48 h at least)
# is accepted for messages, none under 48 h for webhooks (queueing/retention/policy.py). Processed webhook events and finished
# forwarded deliveries go after MAILHUB_PURGE_WEBHOOK_EVENTS_AFTER. Rows per batch (one short
# transaction each) and a pause between batches to leave the database to the send path.
# forget_person keeps an erased address only as HMAC-SHA256 under this key (recipients.forgotten);
# empty: a key derived from SECRET_KEY. Hashes under every key in MAILHUB_FORGET_KEY_FALLBACKS
# and under the keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS keep matching: NEVER drop
# an old key (it would silently lift those suppressions), keep it as a fallback.
MAILHUB_FORGET_KEY = env.str("MAILHUB_FORGET_KEY", default="")
MAILHUB_FORGET_KEY_FALLBACKS = env.list("MAILHUB_FORGET_KEY_FALLBACKS", default=[])
MAILHUB_PURGE_AFTER = env.str("MAILHUB_PURGE_AFTER", default="90d")
MAILHUB_PURGE_DELETE_AFTER = env.str("MAILHUB_PURGE_DELETE_AFTER", default="365d")
MAILHUB_PURGE_PERIODIC_DELETE = env.bool("MAILHUB_PURGE_PERIODIC_DELETE", default=False)
MAILHUB_PURGE_WEBHOOK_EVENTS_AFTER = env.str("MAILHUB_PURGE_WEBHOOK_EVENTS_AFTER", default="30d")
MAILHUB_PURGE_BATCH_SIZE = env.int("MAILHUB_PURGE_BATCH_SIZE", default=500)
MAILHUB_PURGE_PAUSE_SECONDS = env.float("MAILHUB_PURGE_PAUSE_SECONDS", default=0.0)
MAILHUB_PURGE_INTERVAL = env.int("MAILHUB_PURGE_INTERVAL", default=3600)
MAILHUB_PURGE_STEP_SECONDS = env.float("MAILHUB_PURGE_STEP_SECONDS", default=30.0)
# Campaign fan-out: recipients per chunk (one transaction each), and how long a fan-out may
# make no progress before the reconciler starts it again where it stopped.
MAILHUB_CAMPAIGN_FANOUT_CHUNK = env.int("MAILHUB_CAMPAIGN_FANOUT_CHUNK", default=50_000)
MAILHUB_CAMPAIGN_FANOUT_STALL_SECONDS = env.float(
    "MAILHUB_CAMPAIGN_FANOUT_STALL_SECONDS", default=60.0
)
# Where links in emails point. The default suits development only: with DEBUG off it is the
# `mailhub.E005` check error, and the web app and the workers refuse to start.
DEV_BASE_URL = "http://127.0.0.1:8000"
MAILHUB_BASE_URL = env.str("MAILHUB_BASE_URL", default=DEV_BASE_URL)
# The largest CSV file the admin's import page accepts. It is kept in the database until a
# worker has imported it (about 500,000 rows of six columns at the default).
MAILHUB_IMPORT_MAX_BYTES = env.int("MAILHUB_IMPORT_MAX_BYTES", default=32 * 1024 * 1024)
# A double opt-in confirmation email goes to one person for one list at most once in this
# many seconds, however often the list is re-ticked or staff subscribe them again.
MAILHUB_CONFIRMATION_RESEND_SECONDS = env.int("MAILHUB_CONFIRMATION_RESEND_SECONDS", default=3600)
# Suppression by rule (docs/EVENTS.md): this many soft bounces (Transient or Undetermined) of
# one address within this many days suppress it for all mail. Hard bounces and complaints
# suppress at once.
MAILHUB_SOFT_BOUNCE_LIMIT = max(1, env.int("MAILHUB_SOFT_BOUNCE_LIMIT", default=3))
MAILHUB_SOFT_BOUNCE_WINDOW_DAYS = max(1, env.int("MAILHUB_SOFT_BOUNCE_WINDOW_DAYS", default=7))
# Campaign template rendering (docs/SECURITY.md, "Templates"). Per message: seconds and output
# characters. Per group of one campaign's messages a worker renders at once: seconds in all,
# kept well under the lease so rendering can never let a claim run out. Previews and the
# sample render at save run in a child process: its memory beyond start-up, and its wall clock.
MAILHUB_RENDER_TIME_LIMIT = env.float("MAILHUB_RENDER_TIME_LIMIT", default=2.0)
MAILHUB_RENDER_MAX_CHARS = env.int("MAILHUB_RENDER_MAX_CHARS", default=1_000_000)
MAILHUB_RENDER_GROUP_TIME_LIMIT = env.float(
    "MAILHUB_RENDER_GROUP_TIME_LIMIT", default=min(10.0, MAILHUB_LEASE_SECONDS / 4)
)
MAILHUB_PREVIEW_MEMORY_MB = env.int("MAILHUB_PREVIEW_MEMORY_MB", default=256)
MAILHUB_PREVIEW_TIMEOUT = env.float("MAILHUB_PREVIEW_TIMEOUT", default=10.0)
# Guard rails (campaigns.guard_rails): past this many sent messages, a campaign whose hard
# bounces or complaints pass these shares of its sent messages pauses itself (or, finished,
# is flagged and holds the next campaign from its sending domain until acknowledged).
MAILHUB_GUARD_MIN_SENT = env.int("MAILHUB_GUARD_MIN_SENT", default=200)
MAILHUB_GUARD_HARD_BOUNCE_RATE = env.float("MAILHUB_GUARD_HARD_BOUNCE_RATE", default=0.05)
MAILHUB_GUARD_COMPLAINT_RATE = env.float("MAILHUB_GUARD_COMPLAINT_RATE", default=0.003)
# Live per-minute rates (queueing.live_rates) are Redis counters kept this many minutes.
MAILHUB_LIVE_RATES_MINUTES = env.int("MAILHUB_LIVE_RATES_MINUTES", default=180)
# Seconds each process trusts its last read of the operator's sending pause (a database
# row): a pause reaches every worker within this time (queueing.sending_gate).
MAILHUB_PAUSE_CACHE_SECONDS = env.float("MAILHUB_PAUSE_CACHE_SECONDS", default=1.0)
# Seconds between refreshes of the admin dashboard.
MAILHUB_DASHBOARD_REFRESH_SECONDS = env.float("MAILHUB_DASHBOARD_REFRESH_SECONDS", default=3.0)
# Events forwarded to API keys' webhook endpoints (docs/EVENTS.md, "Forwarding to API
# clients"): seconds to connect and for each read; the waits after failed attempts (the last
# one repeats); no attempt later than the window after the event; and whether endpoints may
# be private or loopback addresses (and plain http): development and tests only.
MAILHUB_WEBHOOK_TIMEOUT = env.float("MAILHUB_WEBHOOK_TIMEOUT", default=10.0)
MAILHUB_WEBHOOK_RETRY_DELAYS = [
    float(d)
    for d in env.list("MAILHUB_WEBHOOK_RETRY_DELAYS", default=[5, 30, 120, 600, 3600, 21600, 43200])
]
MAILHUB_WEBHOOK_RETRY_WINDOW_SECONDS = env.float(
    "MAILHUB_WEBHOOK_RETRY_WINDOW_SECONDS", default=24 * 3600
)
MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS", default=False)

# --- Logs and metrics (docs/METRICS.md) ------------------------------------------------------
# plain: "time LEVEL logger: message"; json: one object per line (mailhub.log_format).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
# RQ's own lines (a job taken, "Job OK", its result kept): the worker class applies this level
# to rq's loggers after `rqworker` set its own (queueing.worker).
RQ_LOG_LEVEL = env.str("RQ_LOG_LEVEL", default="WARNING").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "mailhub.log_format.RedactSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "mailhub.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {name: {"level": RQ_LOG_LEVEL} for name in ("rq.worker", "rq.job", "rq.scheduler")},
}
# The Prometheus endpoint (/metrics): a scraper sends `Authorization: Bearer <token>`;
# empty turns token access off (staff with mailhub's view_metrics permission still may).
MAILHUB_METRICS_TOKEN = env.str("MAILHUB_METRICS_TOKEN", default="")
# The provider's daily sending quota in emails (0: none known); exposed as a gauge for the
# "quota nearly used" alert.
MAILHUB_DAILY_QUOTA = env.int("MAILHUB_DAILY_QUOTA", default=0)
