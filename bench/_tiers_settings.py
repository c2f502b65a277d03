"""The tier bench's processes: the benches' production settings (floor view, no-op task)
with the storefront's rate limits out of the way of the ``me`` load."""

from bench._settings import *  # noqa: F403

STOREFRONT_RATE_LIMITS = {
    "shop": (10_000_000, 60),
    "customer": (10_000_000, 60),
}
