"""What every Admin API operation shares: the client it calls and how its arguments encode."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from merchants.shopify.client import AdminClient

if TYPE_CHECKING:
    from merchants.models import Shop


def admin_client(shop: Shop, client: AdminClient | None) -> AdminClient:
    """The caller's client (tests inject one), else a new one for ``shop``."""
    return client if client is not None else AdminClient(shop)


def iso(value: datetime) -> str:
    """An aware datetime as ISO 8601; a naive one is refused (its zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("aware datetimes only")
    return value.isoformat()


def decimal_str(value: Decimal) -> str:
    """A finite Decimal as the platform's decimal string (never through float)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"expected a finite Decimal, got {value!r}")
    return str(value)
