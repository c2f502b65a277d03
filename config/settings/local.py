"""Local and demo defaults: SQLite, tasks in-process, the devstore. Nothing to configure."""

import base64
import hashlib

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "beam-local-development-secret-not-for-production"  # noqa: F405
SHOPIFY_API_KEY = SHOPIFY_API_KEY or "beam-dev-api-key"  # noqa: F405
SHOPIFY_API_SECRET = SHOPIFY_API_SECRET or "beam-dev-api-secret"  # noqa: F405
SHOPIFY_APP_URL = SHOPIFY_APP_URL or "http://127.0.0.1:8000"  # noqa: F405
SHOPIFY_STORE_ORIGIN = env("SHOPIFY_STORE_ORIGIN", default=SHOPIFY_APP_URL + "/devstore/{shop}")
BEAM_TOKEN_ENCRYPTION_KEYS = BEAM_TOKEN_ENCRYPTION_KEYS or [  # noqa: F405
    base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
DEVSTORE_ENABLED = env.bool("DEVSTORE_ENABLED", default=True)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = env("DJANGO_COOKIE_SAMESITE", default="Lax")
CSRF_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE
INSTALLED_APPS = [*INSTALLED_APPS, "devstore"]  # noqa: F405
# The devstore frames Beam from this very origin; production adds nothing.
SHOPIFY_EXTRA_FRAME_ANCESTORS = env.list("SHOPIFY_EXTRA_FRAME_ANCESTORS", default=["'self'"])
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # `make run` serves concurrent requests (webhook bursts, the drain, the admin) from one
    # SQLite file. WAL: readers never wait for the writer; NORMAL sync: the demo's many small
    # commits without an fsync each. IMMEDIATE: a transaction takes the write lock when it
    # begins, so two writers queue on the busy timeout instead of one failing with "database
    # is locked" when it upgrades its read snapshot to a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(  # noqa: F405
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env.float("BEAM_SQLITE_BUSY_TIMEOUT", default=30.0),
        }
    )
if not REDIS_URL:  # noqa: F405
    # Shared by every local process (runserver, `manage.py` jobs): a write in one drops the
    # cached documents the others serve (a per-process LocMemCache would keep them stale).
    # Beside the SQLite file it caches (one cache per BEAM_SQLITE_PATH).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env("BEAM_CACHE_DIR", default=f"{SQLITE_PATH}-cache"),  # noqa: F405
        }
    }
# Periodic jobs (CELERY_BEAT_SCHEDULE) run in runserver's process: no beat under `make run`.
INSTALLED_APPS = [*INSTALLED_APPS, "config.local_scheduler.LocalSchedulerConfig"]
