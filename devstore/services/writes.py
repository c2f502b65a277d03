"""How every store write runs (one transaction, webhooks after commit) and rounds money."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from devstore.webhooks import webhook_outbox

CENT = Decimal("0.01")
ZERO = Decimal("0")


@contextmanager
def store_write() -> Iterator[None]:
    """One transaction whose webhooks are sent only once it commits (never for a rollback)."""
    with webhook_outbox(), transaction.atomic():
        yield


def cents(amount: Decimal) -> Decimal:
    """Round half up to the cent, as the platform rounds allocations and taxes."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
