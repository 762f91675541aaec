"""Settings for Automation Studio, read from the environment.

Embedded default (no env vars): SQLite in ``var/`` and kombu's filesystem broker, so a
fresh clone runs with no servers. Production: DATABASE_URL=postgres://… and
CELERY_BROKER_URL=redis://…; with DEBUG off, SECRET_KEY and ALLOWED_HOSTS are required.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from django.templatetags.static import static

from .env import (
    LOCAL_SETTINGS_NAME,
    env_bool,
    env_int,
    env_list,
    env_str,
    load_local_settings,
    parse_database_url,
    require,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STUDIO_VAR_DIR", str(BASE_DIR / "var")))
# run.py's development file (DEBUG=1, a generated SECRET_KEY); the environment wins over it.
LOCAL_SETTINGS_FILE = VAR_DIR / LOCAL_SETTINGS_NAME
load_local_settings(LOCAL_SETTINGS_FILE)

DEBUG = env_bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
else:
    SECRET_KEY = require("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        require("ALLOWED_HOSTS")

INSTALLED_APPS = [
    # The admin theme (django-unfold) must come before django.contrib.admin to override it.
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "crm",
    "api",
    "prompts",
    "workflows",
    "engine",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "automation_studio.urls"
# JSON for /api/ and /hooks/ paths, Django's page elsewhere (api/errors.py).
CSRF_FAILURE_VIEW = "api.errors.csrf_failure_view"
WSGI_APPLICATION = "automation_studio.wsgi.application"

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

DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'studio.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL + a busy timeout let the web server, worker and beat share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
else:
    # Persistent connections save a new session (~6 ms on PostgreSQL) per request and per
    # worker task; a health check replaces one the server dropped. Seconds; 0 closes each time.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side binding: psycopg sends the parameters apart from the statement's text (no
    # quoting in Python) and, once a connection has run one text `prepare_threshold` times,
    # prepares it, so PostgreSQL stops parsing and planning the engine's hot statements
    # (bench/README.md: a 5-add_tag journey's tasks ~25 % less CPU). DATABASE_SERVER_SIDE_BINDING=0
    # behind a transaction-pooling PgBouncer older than 1.21 (it cannot keep prepared statements).
    if env_bool("DATABASE_SERVER_SIDE_BINDING", True):
        DATABASES["default"]["OPTIONS"].update(
            server_side_binding=True,
            prepare_threshold=env_int("DATABASE_PREPARE_THRESHOLD", 5),
        )
    if sys.argv[1:2] == ["runserver"]:
        # runserver serves each request on a thread of its own: a kept connection is never
        # reused, only piled up until PostgreSQL refuses clients (Django's docs say the same).
        DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names in production (needs `collectstatic`); plain files in DEBUG.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# whitenoise serves the static files from the web process (no CDN, no separate web server):
# in production the ones `collectstatic` gathered; in DEBUG straight from the apps' folders,
# so gunicorn in a development checkout shows a styled admin too (runserver serves them first).
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if DEBUG:  # whitenoise warns at every start when STATIC_ROOT is missing; nothing is put there
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- Admin studio (django-unfold) ---------------------------------------------
UNFOLD = {
    "SITE_TITLE": "Automation Studio",
    "SITE_HEADER": "Automation Studio",
    "SITE_URL": "/",
    "DASHBOARD_CALLBACK": "workflows.admin_dashboard.dashboard_callback",
    "SHOW_VIEW_ON_SITE": False,
    # Linked from every admin page, so browsers stop asking for /favicon.ico (a 404 each time).
    "SITE_FAVICONS": [
        {
            "rel": "icon",
            "type": "image/svg+xml",
            "href": lambda request: static("studio/favicon.svg"),
        }
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- REST API ---------------------------------------------------------------
# Bearer API tokens (hashed, see api/) for integrations, the session for the admin's own pages.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.permissions.TenantRole",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.StudioPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.StudioAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "URL_FORMAT_OVERRIDE": None,
}
# Requests per token (or session user) and period: "600/min", "20/s"; empty turns it off.
STUDIO_API_THROTTLE_RATE = env_str("STUDIO_API_THROTTLE_RATE", "600/min")
# Enrolling more contacts than this in one request runs in the background (a job id).
STUDIO_API_ENROLL_INLINE_MAX = env_int("STUDIO_API_ENROLL_INLINE_MAX", 200)
SPECTACULAR_SETTINGS = {
    "TITLE": "Automation Studio API",
    "DESCRIPTION": "REST API for the visual builder; see docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "WorkflowStatusEnum": "workflows.models.Workflow.Status",
        "EnrollmentStatusEnum": "workflows.models.Enrollment.Status",
        "EnrollJobStatusEnum": "workflows.models.EnrollJob.Status",
        "PromptStatusEnum": "prompts.models.Prompt.Status",
        "PromptProviderEnum": "prompts.models.Prompt.Provider",
    },
}

# --- Celery -----------------------------------------------------------------
# The database is the source of truth; the broker only carries work.
_default_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (_default_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_default_broker_dir / "queue"),
        "data_folder_out": str(_default_broker_dir / "queue"),
        "processed_folder": str(_default_broker_dir / "processed"),
        "control_folder": str(_default_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    # kombu's own filesystem transport crashes with several processes; see broker.py.
    CELERY_BROKER_TRANSPORT = "automation_studio.broker:Transport"
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A step task is short; late ack + prefetch 1 means a killed worker's task is redelivered,
# and no worker hoards work it cannot start.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 4)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# DatabaseScheduler, with its setup safe from a stop signal (automation_studio/beat.py).
CELERY_BEAT_SCHEDULER = "automation_studio.beat:StudioScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {}
# Celery's Django fix-up closes every database connection around each task unless this is
# set; the worker instead keeps them for CONN_MAX_AGE with health checks
# (automation_studio/celery.py closes only broken or expired ones, as Django does per request).
CELERY_DB_REUSE_MAX = 1_000_000_000

# --- Automation Studio ------------------------------------------------------
GEMINI_API_KEY = env_str("GEMINI_API_KEY", "")
STUDIO_SCHEDULER_INTERVAL = timedelta(seconds=env_int("STUDIO_SCHEDULER_INTERVAL_SECONDS", 2))
STUDIO_STEP_LOG_RETENTION_DAYS = env_int("STUDIO_STEP_LOG_RETENTION_DAYS", 90)
STUDIO_MAX_STEP_VISITS = env_int("STUDIO_MAX_STEP_VISITS", 50)
# One task runs an enrollment's steps back to back (each in its own transaction) until a wait,
# or until it has spent this much time or this many steps; then it queues the rest.
STUDIO_TASK_TIME_BUDGET_MS = env_int("STUDIO_TASK_TIME_BUDGET_MS", 1000)
STUDIO_TASK_MAX_STEPS = env_int("STUDIO_TASK_MAX_STEPS", 50)
STUDIO_DEFINITION_MAX_BYTES = env_int("STUDIO_DEFINITION_MAX_BYTES", 1_000_000)
# The contact model the engine enrolls (swappable, like AUTH_USER_MODEL).
STUDIO_CONTACT_MODEL = env_str("STUDIO_CONTACT_MODEL", "crm.Contact")

# How often work whose enqueue was lost (a killed worker) is re-sent, and after how long.
# Work a dead worker held is re-sent within lease + interval seconds (issue 14: under 15 s).
STUDIO_SWEEP_INTERVAL_SECONDS = env_int("STUDIO_SWEEP_INTERVAL_SECONDS", 5)
STUDIO_WORK_LEASE_SECONDS = env_int("STUDIO_WORK_LEASE_SECONDS", 8)
STUDIO_SWEEP_STALE_SECONDS = env_int("STUDIO_SWEEP_STALE_SECONDS", 60)  # without row locks
# Periodic engine work, registered here once; django-celery-beat's DatabaseScheduler syncs it.
CELERY_BEAT_SCHEDULE = {
    "engine-scheduler-tick": {
        "task": "engine.tasks.scheduler_tick",
        "schedule": STUDIO_SCHEDULER_INTERVAL.total_seconds(),
        "options": {"expires": 10},
    },
    "engine-sweep": {
        "task": "engine.tasks.sweep",
        "schedule": float(STUDIO_SWEEP_INTERVAL_SECONDS),
        "options": {"expires": max(5, STUDIO_SWEEP_INTERVAL_SECONDS - 10)},
    },
    "workflows-resend-enroll-jobs": {
        "task": "workflows.tasks.resend_enroll_jobs",
        "schedule": float(STUDIO_SWEEP_INTERVAL_SECONDS),
        "options": {"expires": max(5, STUDIO_SWEEP_INTERVAL_SECONDS - 10)},
    },
    "engine-purge-step-logs": {"task": "engine.tasks.purge_step_logs", "schedule": 3600.0},
    "engine-purge-webhook-deliveries": {
        "task": "engine.tasks.purge_webhook_deliveries",
        "schedule": 3600.0,
    },
}

# --- Outbound: channels, HTTP, AI --------------------------------------------
# Channel → backend class path ("default" is the fallback); console prints, locmem keeps an outbox.
STUDIO_CHANNEL_BACKENDS = {
    "default": env_str("STUDIO_CHANNEL_BACKEND", "engine.effects.channels.console.ConsoleBackend")
}
STUDIO_TWILIO = {
    "base_url": env_str("TWILIO_BASE_URL", "https://api.twilio.com"),
    "account_sid": env_str("TWILIO_ACCOUNT_SID", ""),
    "auth_token": env_str("TWILIO_AUTH_TOKEN", ""),
    "from_sms": env_str("TWILIO_FROM_SMS", ""),
    "from_whatsapp": env_str("TWILIO_FROM_WHATSAPP", ""),
    "from_voice": env_str("TWILIO_FROM_VOICE", ""),
}
# Internal hosts or CIDRs that http_request steps may reach despite the SSRF guard.
STUDIO_HTTP_ALLOWED_HOSTS = env_list("STUDIO_HTTP_ALLOWED_HOSTS", [])
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL", "")
OPENAI_COMPATIBLE_BASE_URL = env_str("OPENAI_COMPATIBLE_BASE_URL", "https://openrouter.ai/api/v1")
OPENAI_COMPATIBLE_API_KEY = env_str("OPENAI_COMPATIBLE_API_KEY", "")
STUDIO_AI_TIMEOUT_SECONDS = env_int("STUDIO_AI_TIMEOUT_SECONDS", 30)
# JSON (model → {"input", "output", "cached"} USD per 1M tokens); checked at start-up.
STUDIO_AI_PRICES: dict | str = env_str("STUDIO_AI_PRICES", "") or {}
# Sent when a prompt sets no max_output_tokens, so every call's cost has a known maximum.
STUDIO_AI_MAX_OUTPUT_TOKENS = env_int("STUDIO_AI_MAX_OUTPUT_TOKENS", 8192)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "studio@localhost")
STUDIO_PUBLIC_BASE_URL = env_str("STUDIO_PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# --- Triggers ----------------------------------------------------------------
STUDIO_TRIGGERS_ENABLED = env_bool("STUDIO_TRIGGERS_ENABLED", default=True)
STUDIO_TRIGGER_INDEX_SECONDS = env_int("STUDIO_TRIGGER_INDEX_SECONDS", 30)
STUDIO_TRIGGER_BULK_CHUNK = env_int("STUDIO_TRIGGER_BULK_CHUNK", 500)
STUDIO_BULK_ENROLL_CHUNK = env_int("STUDIO_BULK_ENROLL_CHUNK", 2000)
STUDIO_WEBHOOK_MAX_BYTES = env_int("STUDIO_WEBHOOK_MAX_BYTES", 262_144)
STUDIO_WEBHOOK_TOLERANCE_SECONDS = env_int("STUDIO_WEBHOOK_TOLERANCE_SECONDS", 300)
STUDIO_AI_DEFAULT_MODEL = env_str("STUDIO_AI_DEFAULT_MODEL", "")
# Trigger events wait this long (ms) to be published together; 0 sends each at once.
STUDIO_DISPATCH_BATCH_MS = env_int("STUDIO_DISPATCH_BATCH_MS", 100)
# A web process that sent a webhook's enrollment less than this long ago (ms) holds the next
# ones for the rest of that window and sends them as one task; 0 sends each at once.
STUDIO_WEBHOOK_BATCH_MS = env_int("STUDIO_WEBHOOK_BATCH_MS", 50)
STUDIO_EMAIL_TRACKING = env_bool("STUDIO_EMAIL_TRACKING", default=True)
