"""The redemption saga against the devstore: a simulated shop with Beam installed, a
customer who is a member with 1,000 points, and a redeem helper that runs the on-commit
work. Each test module names its shop with a module-level ``DOMAIN``."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from devstore import services as store
from devstore.models import DevCustomer, DevShop
from loyalty.models import Member, Redemption, Reward
from loyalty.services import points_adjust, reward_redeem
from merchants.models import Shop
from merchants.shopify import client as client_module
from tests.devstore_install import beam_install
from tests.loyalty.factories import MemberFactory, ProgramFactory, RewardFactory


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch) -> None:
    monkeypatch.setattr(client_module, "BACKOFF_BASE", 0.0)


@pytest.fixture
def dev_shop(db, request) -> DevShop:
    return store.shop_create(request.module.DOMAIN, name="Saga Store", currency="USD")


@pytest.fixture
def shop(dev_shop) -> Shop:
    shop = beam_install(dev_shop)
    ProgramFactory(shop=shop)
    return shop


@pytest.fixture
def customer(dev_shop) -> DevCustomer:
    return store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")


@pytest.fixture
def member(shop, customer) -> Member:
    m = MemberFactory(shop=shop, customer_id=customer.id, email=customer.email)
    points_adjust(
        shop=shop, member=m, amount=1000, reason="seed", actor="t", idempotency_key="seed"
    )
    m.refresh_from_db()
    return m


@pytest.fixture
def redeem(django_capture_on_commit_callbacks) -> Callable[..., Redemption]:
    def _redeem(member: Member, reward: Reward, key: str = "k1", points=None) -> Redemption:
        with django_capture_on_commit_callbacks(execute=True):
            r = reward_redeem(
                shop=member.shop,
                member_id=member.pk,
                reward_id=reward.pk,
                points=points,
                client_key=key,
            )
        r.refresh_from_db()
        return r

    return _redeem


@pytest.fixture
def reward(shop) -> Reward:
    return RewardFactory(
        shop=shop,
        name="$10 off",
        kind=Reward.Kind.FIXED_AMOUNT,
        points_cost=500,
        value=Decimal("10.00"),
        minimum_subtotal=Decimal("20.00"),
    )
