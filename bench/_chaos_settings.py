"""Settings of the chaos bench's processes: production plus the devstore served by the same
gunicorn (it answers the Admin API calls redemptions make), and storefront limits out of
the way of the bench's polling."""

from bench._settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "devstore"]  # noqa: F405
DEVSTORE_ENABLED = True
SHOPIFY_STORE_ORIGIN = SHOPIFY_APP_URL + "/devstore/{shop}"  # noqa: F405
STOREFRONT_RATE_LIMITS = {
    "shop": (10_000_000, 60),
    "customer": (10_000_000, 60),
    "customer_write": (10_000_000, 60),
}
