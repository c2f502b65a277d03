"""factory_boy factories and payload builders for the loyalty tests."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import factory
from django.utils import timezone

from loyalty.models import BonusEvent, LoyaltyProgram, Member, Reward
from merchants.models import Shop

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    domain = factory.Sequence(lambda n: f"shop-{n}.myshopify.com")
    currency = "USD"


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoyaltyProgram
        django_get_or_create = ("shop",)

    shop = factory.SubFactory(ShopFactory)


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    shop = factory.SubFactory(ShopFactory)
    customer_id = factory.Sequence(lambda n: 7000 + n)
    email = factory.LazyAttribute(lambda o: f"c{o.customer_id}@example.com")


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    shop = factory.SubFactory(ShopFactory)
    name = "$5 off"
    kind = Reward.Kind.FIXED_AMOUNT
    points_cost = 500
    value = Decimal("5.00")


class BonusEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BonusEvent

    shop = factory.SubFactory(ShopFactory)
    multiplier = Decimal("2")
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


def _money(amount: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "USD"},
    }


def line(
    price: str,
    quantity: int = 1,
    *,
    line_id: int = 1,
    discount: str | None = None,
    product_id: int | None = 111,
    gift_card: bool = False,
    tax: str | None = None,
) -> dict[str, Any]:
    """A line item shaped like the fixture's."""
    base = copy.deepcopy(fixture("orders_paid")["line_items"][0])
    base.update(
        id=line_id,
        price=price,
        price_set=_money(price),
        quantity=quantity,
        current_quantity=quantity,
        product_id=product_id,
        gift_card=gift_card,
        discount_allocations=(
            [{"amount": discount, "amount_set": _money(discount), "discount_application_index": 0}]
            if discount
            else []
        ),
        tax_lines=(
            [{"price": tax, "price_set": _money(tax), "rate": 0.1, "title": "T"}] if tax else []
        ),
    )
    return base


def order(
    order_id: int,
    lines: list[dict[str, Any]],
    *,
    customer_id: int | None = 501,
    email: str = "shopper@example.com",
    shipping: str | None = None,
    shipping_discount: str | None = None,
    taxes_included: bool = False,
    discount_codes: list[str] | None = None,
    processed_at: str | None = None,
) -> dict[str, Any]:
    """An order payload built from the fixture's shapes with the given lines."""
    payload = copy.deepcopy(fixture("orders_paid"))
    payload.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        line_items=lines,
        email=email,
        contact_email=email,
        taxes_included=taxes_included,
        discount_codes=[
            {"code": c, "amount": "5.00", "type": "fixed_amount"} for c in discount_codes or []
        ],
        processed_at=processed_at or timezone.now().isoformat(),
        created_at=processed_at or timezone.now().isoformat(),
    )
    if customer_id is None:
        payload["customer"] = None
    else:
        payload["customer"].update(
            id=customer_id,
            email=email,
            admin_graphql_api_id=f"gid://shopify/Customer/{customer_id}",
        )
    ship = payload["shipping_lines"][0]
    if shipping is None:
        payload["shipping_lines"] = []
    else:
        ship.update(
            price=shipping,
            price_set=_money(shipping),
            discount_allocations=(
                [{"amount": shipping_discount, "amount_set": _money(shipping_discount)}]
                if shipping_discount
                else []
            ),
        )
    return payload


def refund(
    refund_id: int,
    order_id: int,
    items: list[tuple[int, str]],
    *,
    adjustments: list[tuple[str, str]] | None = None,
    gift_card_lines: set[int] | None = None,
    product_ids: dict[int, int | None] | None = None,
) -> dict[str, Any]:
    """A refunds/create payload: ``items`` are (line_item_id, subtotal)."""
    payload = copy.deepcopy(fixture("refunds_create"))
    template = payload["refund_line_items"][0]
    rlis = []
    for n, (line_id, subtotal) in enumerate(items):
        rli = copy.deepcopy(template)
        rli.update(
            id=10_000 + n,
            line_item_id=line_id,
            subtotal=float(subtotal),
            subtotal_set=_money(subtotal),
        )
        rli["line_item"].update(
            id=line_id,
            gift_card=line_id in (gift_card_lines or set()),
            product_id=(product_ids or {}).get(line_id, 111),
        )
        rlis.append(rli)
    payload.update(
        id=refund_id,
        order_id=order_id,
        refund_line_items=rlis,
        order_adjustments=[
            {
                "id": 1,
                "kind": kind,
                "amount": amount,
                "amount_set": _money(amount),
                "tax_amount": "0.00",
            }
            for kind, amount in adjustments or []
        ],
    )
    return payload
