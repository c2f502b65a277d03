"""Devstore rows as Admin GraphQL values: date-times and money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from devstore.payloads import money


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def money_v2(amount: Decimal | str, currency: str) -> dict[str, str]:
    return {"amount": money(Decimal(amount)), "currencyCode": currency}


def bag_from_rest(money_set: dict | None) -> dict | None:
    if money_set is None:
        return None
    shop_money = money_set["shop_money"]
    presentment = money_set["presentment_money"]
    return {
        "shopMoney": money_v2(shop_money["amount"], shop_money["currency_code"]),
        "presentmentMoney": money_v2(presentment["amount"], presentment["currency_code"]),
    }


def bag(amount: Decimal, currency: str) -> dict:
    return {
        "shopMoney": money_v2(amount, currency),
        "presentmentMoney": money_v2(amount, currency),
    }
