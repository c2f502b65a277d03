"""The bulk SQL helpers write what ``save()`` writes: decimals taken as they are come back
with the column's places, and a value Django refuses is refused before anything is
written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from core.db import rows_insert, rows_update
from loyalty.models import LoyaltyOrder
from tests.merchants.webhook_support import ShopFactory

pytestmark = pytest.mark.django_db
D = Decimal


def test_decimals_are_inserted_and_updated_as_save_writes_them() -> None:
    shop = ShopFactory()
    order = LoyaltyOrder(
        shop=shop, order_id=1, base=D("12.34"), refunded_base=D("0.5"), total_price=D(7)
    )
    assert len(rows_insert([order], conflict=("shop", "order_id"))) == 1
    stored = LoyaltyOrder.objects.get(shop=shop, order_id=1)
    assert (stored.base, stored.refunded_base, stored.total_price) == (
        D("12.34"),
        D("0.50"),
        D("7.00"),
    )
    stored.base = D("999999999999.99")  # the column's largest value
    stored.tier_multiplier = D("1.2500")
    assert rows_update([stored], fields=["base", "tier_multiplier"]) == 1
    stored.refresh_from_db()
    assert (stored.base, stored.tier_multiplier) == (D("999999999999.99"), D("1.25"))


@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), D("-Infinity")])
def test_a_decimal_that_is_no_number_is_refused_and_nothing_is_written(value: Decimal) -> None:
    shop = ShopFactory()
    good = LoyaltyOrder(shop=shop, order_id=1, base=D(1))
    bad = LoyaltyOrder(shop=shop, order_id=2, base=value)
    with pytest.raises(ValidationError):
        rows_insert([good, bad], conflict=("shop", "order_id"))
    assert not LoyaltyOrder.objects.filter(shop=shop).exists()
