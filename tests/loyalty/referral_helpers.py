"""Referrals for tests: a shop with referrals on, an advocate with a code, the friend's
claim and the friend's paid order through the crediting engine; the store faked at the
platform boundary (``FakeStore``: codes, lookups, deactivation, order counts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from loyalty.models import Member, Referral, ReferralSettings
from loyalty.services import order_webhook_process, redemptions, referrals_rewards, store_issue
from loyalty.services import referrals as referral_services
from loyalty.services.referrals import referral_claim, referral_code_ensure
from merchants.models import Shop
from tests.loyalty.factories import MemberFactory, ProgramFactory, line, order
from tests.loyalty.test_redemption import FakeStore

FRIEND_CUSTOMER_BASE = 880_000


def store_fake(monkeypatch: pytest.MonkeyPatch, earlier_orders: int = 0) -> FakeStore:
    """The fake store behind every platform call of referrals and redemptions; the
    store's count of a friend's orders is theirs plus ``earlier_orders``."""
    fake = FakeStore()
    monkeypatch.setattr(referral_services, "discount_code_basic_create", fake.basic_create)
    monkeypatch.setattr(redemptions, "discount_code_basic_create", fake.basic_create)
    monkeypatch.setattr(store_issue, "discount_code_lookup", fake.lookup)
    monkeypatch.setattr(redemptions, "discount_code_lookup", fake.lookup)
    monkeypatch.setattr(referrals_rewards, "discount_code_deactivate", fake.deactivate)
    monkeypatch.setattr(referral_services, "discount_code_deactivate", fake.deactivate)
    monkeypatch.setattr(redemptions, "discount_code_deactivate", fake.deactivate)
    monkeypatch.setattr(
        referrals_rewards,
        "customer_order_count",
        lambda shop, customer_gid: 1 + earlier_orders,
    )
    return fake


def referrals_on(shop: Shop, **config: Any) -> Member:
    """Program (14 pending days) and referrals on (500 points); returns the advocate."""
    ProgramFactory(shop=shop, points_per_currency_unit=Decimal(1), pending_days=14)
    ReferralSettings.objects.create(
        shop=shop, enabled=True, offer_value=Decimal(10), reward_points=500, **config
    )
    return MemberFactory(shop=shop, email="ada@example.com", first_name="Ada", last_name="Lovelace")


def claim(shop: Shop, advocate: Member, email: str, ip: str = "198.51.100.7") -> Referral:
    """The friend's claim on the advocate's link (the code's issue runs if the caller
    executes the on-commit callbacks)."""
    code = referral_code_ensure(shop=shop, member_id=advocate.pk)
    return referral_claim(shop=shop, code=code, email=email, ip=ip)


def friend_order(
    shop: Shop, n: int, email: str, code: str | None, topic: str = "orders/paid"
) -> dict[str, Any]:
    """Friend number ``n``'s first order (50.00), paid with ``code``; processed."""
    payload = order(
        900_000 + n,
        [line("50.00", line_id=n * 10 + 1)],
        customer_id=FRIEND_CUSTOMER_BASE + n,
        email=email,
        discount_codes=[code] if code else [],
    )
    payload["customer"].update(first_name=f"Friend{n}", last_name=f"Number{n}")
    order_webhook_process(shop=shop, topic=topic, payload=payload, triggered_at=None)
    return payload
