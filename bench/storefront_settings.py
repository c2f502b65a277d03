"""Settings of the storefront bench's server: the local settings, production-like where it
matters for speed (no DEBUG, persistent DB connections, Redis cache when REDIS_URL is set),
rate limits out of the way of the load, and a minimal view to compare against."""

from config.settings.local import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "storefront_urls"
WHITENOISE_USE_FINDERS = True
STOREFRONT_RATE_LIMITS = {
    "shop": (10_000_000, 60),
    "customer": (10_000_000, 60),
    "customer_write": (10_000_000, 60),
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
