"""Failures of the simulated platform, each with the reason a person (or test) sees."""

from __future__ import annotations


class DevstoreError(Exception):
    """Base: the simulated platform refused an operation."""


class DiscountCodeRefused(DevstoreError):
    """Checkout refused the discount code; the message says why, like the real checkout."""


class OrderOperationRefused(DevstoreError):
    """The order cannot be paid, refunded, fulfilled or cancelled in its current state."""


class ShopExists(DevstoreError):
    """A shop with this domain exists already (the domain is unique)."""


class OAuthError(DevstoreError):
    """A token request failed; ``status`` and ``body`` are what the endpoint answers."""

    def __init__(self, status: int, body: dict[str, str]) -> None:
        super().__init__(body.get("error_description") or body.get("error", "oauth error"))
        self.status = status
        self.body = body
