"""Fixtures for the storefront API: an installed shop, its program, a member and a client
that signs requests exactly like the platform's app proxy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from devstore import services as store
from devstore.models import DevAppToken, DevCustomer, DevShop
from loyalty.models import LoyaltyProgram, Member, Reward
from merchants.models import Shop
from merchants.shopify.signatures import app_proxy_signature_compute
from tests.loyalty.factories import MemberFactory, ProgramFactory, RewardFactory

SECRET = "beam-test-api-secret"
DOMAIN = "sf-shop.myshopify.com"
_DEFAULT = object()


def signed_query(
    shop: str,
    customer: int | None,
    *,
    extra: list[tuple[str, str]] | None = None,
    timestamp: int | None = None,
    secret: str = SECRET,
) -> str:
    pairs = list(extra or [])
    pairs += [
        ("shop", shop),
        ("logged_in_customer_id", "" if customer is None else str(customer)),
        ("path_prefix", "/apps/beam"),
        ("timestamp", str(int(time.time()) if timestamp is None else timestamp)),
    ]
    pairs.append(("signature", app_proxy_signature_compute(pairs, secret=secret)))
    return urlencode(pairs)


class ProxyClient:
    """Calls ``/proxy/<path>`` like the platform forwards a storefront request."""

    def __init__(self, client: Client, shop: Shop, customer: int | None) -> None:
        self.client = client
        self.shop = shop
        self.customer = customer

    def _who(self, customer: Any) -> int | None:
        return self.customer if customer is _DEFAULT else customer

    def get(self, path: str, customer: Any = _DEFAULT, headers: dict | None = None, **q: str):
        query = signed_query(self.shop.domain, self._who(customer), extra=list(q.items()))
        return self.client.get(f"/proxy/{path}?{query}", headers=headers or {})

    def post(self, path: str, body: Any, customer: Any = _DEFAULT):
        query = signed_query(self.shop.domain, self._who(customer))
        data = body if isinstance(body, str) else json.dumps(body)
        return self.client.post(
            f"/proxy/{path}?{query}", data=data, content_type="application/json"
        )


@pytest.fixture
def dev_shop(db: None) -> DevShop:
    return store.shop_create(DOMAIN, name="Demo Store", currency="EUR")


@pytest.fixture
def shop(dev_shop: DevShop) -> Shop:
    """Beam installed in the devstore shop (a live token both sides know)."""
    token = DevAppToken.objects.create(
        shop=dev_shop,
        access_token="shpat_storefront",
        expires_at=timezone.now() + timedelta(hours=1),
        scopes=settings.SHOPIFY_SCOPES,
    )
    shop = Shop(
        domain=DOMAIN,
        name="Demo Store",
        currency="EUR",
        installed_at=timezone.now(),
        scopes=settings.SHOPIFY_SCOPES,
    )
    shop.access_token = token.access_token
    shop.access_token_expires_at = token.expires_at
    shop.save()
    return shop


@pytest.fixture
def customer(dev_shop: DevShop) -> DevCustomer:
    return store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")


@pytest.fixture
def other_customer(dev_shop: DevShop) -> DevCustomer:
    return store.customer_create(dev_shop, "grace@example.com", "Grace", "Hopper")


@pytest.fixture
def program(shop: Shop) -> LoyaltyProgram:
    return ProgramFactory(
        shop=shop,
        welcome_points=100,
        branding={"primary_color": "#e11d48", "program_name": "Bean Club"},
        texts={"fr": {"title": "Club des grains"}},
    )


@pytest.fixture
def rewards(shop: Shop, program: LoyaltyProgram) -> dict[str, Reward]:
    from decimal import Decimal

    return {
        "five": RewardFactory(shop=shop, name="€5 off", points_cost=500, value=Decimal("5.00")),
        "twenty": RewardFactory(
            shop=shop, name="€20 off", points_cost=2000, value=Decimal("20.00")
        ),
        "credit": RewardFactory(
            shop=shop,
            name="Points discount",
            kind=Reward.Kind.VARIABLE,
            points_cost=None,
            value=Decimal("0"),
            points_per_unit=100,
            value_per_unit=Decimal("1.00"),
            min_points=100,
            max_points=1000,
        ),
    }


@pytest.fixture
def member(shop: Shop, customer: DevCustomer) -> Member:
    return MemberFactory(shop=shop, customer_id=customer.id, email=customer.email)


@pytest.fixture
def proxy(client: Client, shop: Shop, customer: DevCustomer) -> ProxyClient:
    return ProxyClient(client, shop, customer.id)


@pytest.fixture
def give_points() -> Callable[..., None]:
    from loyalty import services

    def give(member: Member, points: int, reason: str = "test") -> None:
        services.points_adjust(
            shop=member.shop,
            member=member,
            amount=points,
            reason=reason,
            actor="test",
            idempotency_key=f"{reason}:{points}:{member.pk}",
        )
        member.refresh_from_db()

    return give
