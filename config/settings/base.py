"""Settings shared by every environment.

Everything that differs between machines comes from environment variables (12-factor);
the environment-specific modules only choose defaults and refuse to start without secrets.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_htmx",
    "template_partials",
    "merchants",
    "loyalty",
    "loyalty.analytics",
    "storefront_widget",
    "core",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "merchants.middleware.FrameAncestorsMiddleware",
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
            ],
        },
    }
]

SQLITE_PATH = env("BEAM_SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3"))
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
# A health check is a round trip per request; a dead connection fails one request instead.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The orders' covering index (INCLUDE columns, for PostgreSQL's index-only tier sums) is a
# plain index on SQLite, the embedded default; that is expected, not worth a warning.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = env("REDIS_URL", default="")
# A Redis outage degrades the cache (core.redis_cache): short socket timeouts, so a down or
# hung Redis costs milliseconds per request; after a failure a process leaves Redis alone for
# CACHE_RETRY_SECONDS.
CACHE_RETRY_SECONDS = env.float("CACHE_RETRY_SECONDS", default=1.0)
REDIS_CACHE_OPTIONS = {
    "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=0.25),
    "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.redis_cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Where `collectstatic` gathers the assets WhiteNoise serves (the Procfile's web runs it).
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# The admin runs inside the store admin's iframe: the browser only sends cookies
# to a third-party frame when they are SameSite=None; Secure.
SESSION_COOKIE_SAMESITE = env("DJANGO_COOKIE_SAMESITE", default="None")
CSRF_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "merchants.api.exception_handler.api_exception_handler",
}

# --- Shopify ---------------------------------------------------------------------------
SHOPIFY_API_KEY = env("SHOPIFY_API_KEY", default="")
SHOPIFY_API_SECRET = env("SHOPIFY_API_SECRET", default="")
# During a secret rotation webhooks signed with the previous secret are still accepted.
SHOPIFY_API_SECRET_PREVIOUS = env("SHOPIFY_API_SECRET_PREVIOUS", default="")
SHOPIFY_APP_URL = env("SHOPIFY_APP_URL", default="").rstrip("/")
SHOPIFY_API_VERSION = env("SHOPIFY_API_VERSION", default="2026-10")
SHOPIFY_SCOPES = env(
    "SHOPIFY_SCOPES",
    default=(
        "read_orders,read_customers,write_customers,write_discounts,read_products,"
        "write_store_credit_account_transactions"
    ),
)
# Where a shop's admin lives. Production: the shop's own domain. The devstore mounts
# simulated shops under a path of this very server.
SHOPIFY_STORE_ORIGIN = env("SHOPIFY_STORE_ORIGIN", default="https://{shop}")
SHOPIFY_HTTP_TIMEOUT = env.float("SHOPIFY_HTTP_TIMEOUT", default=10.0)
SHOPIFY_APP_PROXY_PREFIX = env("SHOPIFY_APP_PROXY_PREFIX", default="/apps/beam")
# How far a signed query's timestamp may be from now (seconds).
SHOPIFY_HMAC_MAX_AGE = env.int("SHOPIFY_HMAC_MAX_AGE", default=90)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)

# Fernet keys (comma separated, newest first) for tokens at rest; older keys still decrypt.
BEAM_TOKEN_ENCRYPTION_KEYS = env.list("BEAM_TOKEN_ENCRYPTION_KEYS", default=[])

DEVSTORE_ENABLED = env.bool("DEVSTORE_ENABLED", default=False)

# --- Celery ----------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# A broker outage is waited out, however long: the worker never gives up reconnecting
# (Celery's default stops after 100 attempts and exits), nor when Redis is down at start.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Worker liveness (core.worker_health): a consuming worker beats every interval; the health
# check fails when no beat is younger than the max age.
WORKER_HEARTBEAT_INTERVAL_SECONDS = env.float("WORKER_HEARTBEAT_INTERVAL_SECONDS", default=5.0)
WORKER_HEARTBEAT_MAX_AGE_SECONDS = env.float("WORKER_HEARTBEAT_MAX_AGE_SECONDS", default=30.0)
CELERY_BEAT_SCHEDULE = {
    "webhooks-retry-due": {"task": "merchants.tasks.webhooks_drain", "schedule": 30.0},
    "orders-reconcile": {"task": "merchants.tasks.orders_reconcile_all", "schedule": 900.0},
    "points-pending-release": {"task": "loyalty.tasks.pending_release_due", "schedule": 300.0},
    "redemptions-pending-sweep": {
        "task": "loyalty.tasks.redemptions_pending_sweep",
        "schedule": 15.0,
    },
    "redemptions-expire": {"task": "loyalty.tasks.redemptions_expire_due", "schedule": 900.0},
    "points-expire": {"task": "loyalty.tasks.points_expire_due", "schedule": 3600.0},
    "tiers-evaluate": {"task": "loyalty.tasks.tiers_evaluate_due", "schedule": 3600.0},
    "tiers-sync": {"task": "loyalty.tasks.tiers_sync_run", "schedule": 30.0},
    "earning-actions-yearly": {
        "task": "loyalty.tasks.earning_actions_yearly_due",
        "schedule": 3600.0,
    },
    "ledger-verify": {"task": "loyalty.tasks.ledger_verify", "schedule": 86400.0},
    # referral rewards due, overdue friend codes, hashed IPs past their retention
    "referrals-due": {"task": "loyalty.tasks.referrals_due", "schedule": 300.0},
    "branding-publish": {"task": "loyalty.tasks.branding_publish_sweep", "schedule": 60.0},
    "analytics-rollups": {"task": "loyalty.analytics.tasks.rollups_refresh_all", "schedule": 300.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "config.log_redaction.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "loggers": {
        # runserver's access log: request lines carry session tokens, signatures and hmacs.
        "django.server": {
            "handlers": ["django.server"],
            "filters": ["redact_secrets"],
            "level": "INFO",
            "propagate": False,
        },
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
