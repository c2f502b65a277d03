"""Test settings: the local defaults, pointed at DATABASE_URL/REDIS_URL when CI gives them."""

from .local import *  # noqa: F403
from .local import env

SHOPIFY_API_KEY = "beam-test-api-key"
SHOPIFY_API_SECRET = "beam-test-api-secret"
SHOPIFY_API_SECRET_PREVIOUS = ""
SHOPIFY_APP_URL = "http://beam.test"
# Platform HTTP in tests is routed in-process to the devstore (see tests/conftest.py).
SHOPIFY_STORE_ORIGIN = "http://beam.test/devstore/{shop}"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
ALLOWED_HOSTS = ["*"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
if not REDIS_URL:  # noqa: F405
    # Each test process its own cache (local runs share a file cache between processes).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default=None)}  # noqa: F405
# Test databases reuse ids across tests: no per-process memo of storefront documents.
STOREFRONT_LOCAL_CACHE_SECONDS = 0
WEBHOOK_SHOP_CACHE_SECONDS = 0  # shops are recreated per test under the same domain
WEBHOOK_WAKE_INTERVAL_SECONDS = 0  # every delivery wakes a drain; drains do not linger

# xdist workers share one Redis: each gets its own database number, so one worker's
# cache.clear() (run around every test) never wipes another's counters and documents.
_worker = env("PYTEST_XDIST_WORKER", default="")
if CACHES["default"]["BACKEND"].endswith("RedisCache") and _worker.startswith("gw"):
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(CACHES["default"]["LOCATION"])
    _base = int(_url.path.strip("/") or 0)
    _db = (_base + 1 + int(_worker[2:])) % 16
    CACHES["default"]["LOCATION"] = urlunsplit(_url._replace(path=f"/{_db}"))
