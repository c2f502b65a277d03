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
    # WAL and NORMAL sync: the demo's many small commits (webhook inbox, devstore) without an
    # fsync each; readers (the dev server) never wait for the writer.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = (  # noqa: F405
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
