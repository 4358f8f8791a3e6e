"""Settings shared by every environment; each value comes from the environment (django-environ).

local/test/production only override defaults here. Nothing exists only in production, so the
newcomer's embedded setup (SQLite, filesystem broker) runs the same code paths as production's
PostgreSQL + Redis.
"""

from pathlib import Path

import environ
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me-in-production-0123456789")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "graphene_django",
    "crm",
    "marketing",
    "social",
    "intelligence",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "crm.current_club.CurrentClubMiddleware",
    "crm.auth.OwnerMfaRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "crm.current_club.club_context",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# Embedded default: a SQLite file under var/. Production: DATABASE_URL=postgres://...
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'fairway.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the Celery worker write to the same file. WAL lets readers run beside
    # a writer, IMMEDIATE takes the write lock at BEGIN (no lock-upgrade deadlocks) and the
    # timeout makes a second writer wait instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No JIT: it compiles any plan whose estimated cost passes jit_above_cost (a club-wide segment
    # refresh is just under it at 1M profiles), and the compilation then adds ~0.35 s to a 0.65 s
    # query while saving nothing (benchmarks/segments.py with JIT forced on); the slower
    # per-profile forms of a 1M-profile segment query took 0.1-0.25 s longer with it.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery -----------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Without Redis the broker is Kombu's filesystem transport: a queue in var/broker that the web
# process, the worker and beat share on one machine. It needs no server, so `make run` still
# executes scheduled jobs on a fresh machine.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_FOLDER = Path(env("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "broker")))
    (CELERY_BROKER_FOLDER / "queue").mkdir(parents=True, exist_ok=True)
    (CELERY_BROKER_FOLDER / "processed").mkdir(parents=True, exist_ok=True)
    (CELERY_BROKER_FOLDER / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        # Fanout/broadcast tables; Kombu's default is ./control in whatever directory runs it.
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues by kind of work, so each can get its own workers in production (README, Production):
# `ingest` (event processing: steady, database-bound), `segments` (refreshes: heavy queries),
# `messaging` (segment syncs: waiting on Messaging's HTTP API), `sends` (campaign and journey
# sends through the send ledger: Messaging calls too, kept apart so a big list sync never delays a
# message), and `default` for housekeeping. A worker started without
# `-Q` consumes all of them, which is what `make run` and the tests' workers do. A tick goes to
# the queue of the work it enqueues: behind a backlog it waits there and expires (schedules.py)
# instead of adding the same due items again.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue(name) for name in ("default", "ingest", "segments", "messaging", "sends")]
CELERY_TASK_ROUTES = {
    "crm.tasks.process_inbound_events": {"queue": "ingest"},
    "crm.tasks.pending_events_tick": {"queue": "ingest"},
    "marketing.tasks.refresh_segments_for_profiles": {"queue": "segments"},
    "marketing.tasks.refresh_segment": {"queue": "segments"},
    "marketing.tasks.refresh_due_segment": {"queue": "segments"},
    "marketing.tasks.segments_refresh_tick": {"queue": "segments"},
    "marketing.tasks.sync_segment_to_messaging": {"queue": "messaging"},
    "marketing.tasks.sync_due_segment_to_messaging": {"queue": "messaging"},
    "marketing.tasks.messaging_sync_tick": {"queue": "messaging"},
    "marketing.tasks.dispatch_due_sends": {"queue": "sends"},
    "marketing.tasks.sends_dispatch_tick": {"queue": "sends"},
}
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How often the scheduler heartbeat runs; tests shorten it to see a tick quickly.
FAIRWAY_HEARTBEAT_SECONDS = env.int("FAIRWAY_HEARTBEAT_SECONDS", default=60)

# --- Auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "crm:dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "crm.auth.StaffAccountAdapter"
ACCOUNT_SESSION_REMEMBER = None
# allauth's own limits: failed logins per IP and per account (SPEC 15 rate limits on login).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Fairway CRM"
# SPEC 2: TOTP is required for club owners. Local development turns it off for the demo login.
FAIRWAY_REQUIRE_OWNER_MFA = env.bool("FAIRWAY_REQUIRE_OWNER_MFA", default=True)

# --- Field encryption (secrets at rest) ---------------------------------------------------
# Comma-separated Fernet keys, newest first; older keys stay to decrypt until rotated out.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "crm.edges.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fairway CRM API",
    "DESCRIPTION": (
        "One profile per golf-club customer, joined from SCL, TeeTime and Messaging. Authenticate with a "
        "club API key (`Authorization: Api-Key fw_…`, created in the admin) or a staff session. Every "
        'error has the body `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from static/, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "InboundEventStatusEnum": "crm.models.InboundEventStatus",
        "MembershipStatusEnum": "crm.models.MembershipStatus",
    },
}
# Requests per key and per club (all keys and staff together); 429 with Retry-After beyond.
API_THROTTLE_RATES = {
    "key": env("API_RATE_PER_KEY", default="600/min"),
    "club": env("API_RATE_PER_CLUB", default="3000/min"),
}
# Segments: the periodic full refresh (events refresh the profiles they touch straight away).
SEGMENTS_REFRESH_MINUTES = env.int("SEGMENTS_REFRESH_MINUTES", default=15)
# GraphQL (/graphql/): the schema for `manage.py graphql_schema`, and how deep a query may nest.
# The deepest useful query (profiles { edges { node { recentActivities { id } } } }) nests 4 levels.
GRAPHENE = {"SCHEMA": "config.graphql_schema.schema"}
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=8)
# Inbound event pushes: 1,000 events of a few hundred bytes each fit comfortably.
EVENTS_MAX_BODY_BYTES = env.int("EVENTS_MAX_BODY_BYTES", default=4 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = EVENTS_MAX_BODY_BYTES + 1024 * 1024
# Redis stream read by `manage.py consume_events`.
EVENTS_STREAM = env("EVENTS_STREAM", default="fairway:events")
EVENTS_STREAM_GROUP = env("EVENTS_STREAM_GROUP", default="fairway-crm")

# --- Messaging service (SPEC 13 outbound): marketing/messaging/ reads these -----------------
# The default is the local simulator that `make run` starts (`python -m simulators.messaging
# --port 8025`); production sets the real URL and key.
MESSAGING_BASE_URL = env("MESSAGING_BASE_URL", default="http://127.0.0.1:8025")
MESSAGING_API_KEY = env("MESSAGING_API_KEY", default="")
MESSAGING_TIMEOUT_SECONDS = env.float("MESSAGING_TIMEOUT_SECONDS", default=10.0)  # connect and read, each
MESSAGING_MAX_RETRIES = env.int("MESSAGING_MAX_RETRIES", default=4)  # after the first attempt
MESSAGING_BACKOFF_SECONDS = env.float("MESSAGING_BACKOFF_SECONDS", default=0.5)  # first retry's ceiling, doubling
MESSAGING_BACKOFF_MAX_SECONDS = env.float("MESSAGING_BACKOFF_MAX_SECONDS", default=30.0)  # also caps Retry-After
# Segment → Messaging list sync: contacts per add/remove call, and how often beat syncs flagged segments.
MESSAGING_SYNC_BATCH = env.int("MESSAGING_SYNC_BATCH", default=500)
MESSAGING_SYNC_MINUTES = env.int("MESSAGING_SYNC_MINUTES", default=15)
# A sync whose heartbeat is older than this is presumed dead (worker killed) and may be taken over.
MESSAGING_SYNC_STALE_SECONDS = env.int("MESSAGING_SYNC_STALE_SECONDS", default=600)
# The send ledger: recipients per batch send (Messaging takes up to 1,000), and how long a
# dispatcher owns the rows it claimed: longer than a batch call with all its retries can take, so a
# row is only picked up again when its dispatcher has surely died (and then under the same key).
MESSAGING_SEND_BATCH = env.int("MESSAGING_SEND_BATCH", default=500)
MESSAGING_SEND_CLAIM_SECONDS = env.int("MESSAGING_SEND_CLAIM_SECONDS", default=900)

# --- Anthropic (SPEC 19): only intelligence/llm/ reads these -------------------------------
# An empty key means offline: the AI segment builder falls back to its phrase parser. An empty
# base URL means the SDK's default; tests and the demo point it at simulators/anthropic_api.py.
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")
ANTHROPIC_MODEL = env("ANTHROPIC_MODEL", default="claude-sonnet-5-5")
ANTHROPIC_TIMEOUT_SECONDS = env.float("ANTHROPIC_TIMEOUT_SECONDS", default=30.0)
ANTHROPIC_MAX_RETRIES = env.int("ANTHROPIC_MAX_RETRIES", default=2)

# --- I18N, static -------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Fairway CRM <no-reply@fairway.local>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
