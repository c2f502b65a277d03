"""Redis down: every storefront endpoint still answers from the database, a redemption is
committed (its code issued later by the pending sweep), limits fall back to a per-process
count, and a hung Redis costs one short timeout, not seconds per request."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from core.models import CacheDrop
from loyalty.models import LedgerEntry, Member, Redemption
from loyalty.services import redemptions_pending_sweep
from tests.loyalty.factories import ProgramFactory, RewardFactory
from tests.storefront_widget.extension_helpers import bearer, devstore_with_beam

DOWN_URL = "redis://127.0.0.1:1/0"  # nothing listens there


def resilient_cache(settings: Any, url: str) -> dict[str, Any]:
    """The production cache configuration (backend and socket timeouts) pointed at ``url``."""
    options = settings.REDIS_CACHE_OPTIONS
    return {
        "default": {
            "BACKEND": "core.redis_cache.ResilientRedisCache",
            "LOCATION": url,
            "OPTIONS": options,
        }
    }


@pytest.fixture
def redis_down(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache and the Celery broker point at a Redis that is down."""
    settings.CACHES = resilient_cache(settings, DOWN_URL)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = DOWN_URL
    monkeypatch.setattr(celery_app, "_pool", None)  # drop the producers of the test broker


@pytest.fixture
def redis_hung(settings: Any) -> Iterator[None]:
    """The cache points at a port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        settings.CACHES = resilient_cache(settings, url)
        yield


def test_program_answers_from_the_database(proxy, program, rewards, redis_down):
    response = proxy.get("api/program")

    assert response.status_code == 200
    body = response.json()
    assert body["branding"]["program_name"] == "Bean Club"
    assert sorted(r["title"] for r in body["rewards"]) == ["Points discount", "€20 off", "€5 off"]


def test_me_answers_from_the_database(proxy, program, member, give_points, redis_down):
    give_points(member, 300)

    first = proxy.get("api/me")
    again = proxy.get("api/me")

    assert first.status_code == again.status_code == 200
    assert first.json()["member"]["balance"] == again.json()["member"]["balance"] == 300


def test_landing_page_answers_from_the_database(proxy, program, rewards, redis_down):
    response = proxy.get("", customer=None)

    assert response.status_code == 200
    assert "<title>Bean Club · Demo Store</title>" in response.content.decode()


def test_redeem_commits_and_the_sweep_issues_the_code_once_the_broker_is_back(
    proxy, program, rewards, member, give_points, redis_down, settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    give_points(member, 1200)

    with django_capture_on_commit_callbacks(execute=True):
        response = proxy.post(
            "api/redeem", {"reward_id": str(rewards["five"].pk), "client_key": "k-down-00001"}
        )

    assert response.status_code == 201, response.content
    assert response.json()["redemption"]["status"] == "pending"
    redemption = Redemption.objects.get(member=member)
    assert redemption.status == Redemption.Status.PENDING
    member.refresh_from_db()
    assert member.balance == 700
    assert LedgerEntry.objects.filter(member=member, kind="redeem").count() == 1

    settings.CELERY_TASK_ALWAYS_EAGER = True  # the broker is back: the sweep queues it again
    assert redemptions_pending_sweep(now=timezone.now() + timedelta(seconds=61)) == 1
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.ISSUED
    assert redemption.code.startswith("BEAM-")


def test_extension_customer_answers_from_the_database(db, client, redis_down):
    _, shop = devstore_with_beam("ext-down.myshopify.com")
    ProgramFactory(shop=shop)
    RewardFactory(shop=shop, name="$5 off", points_cost=500, value=Decimal("5.00"))
    Member.objects.create(shop=shop, customer_id=77, balance=0)

    response = client.get("/ext/customer", headers=bearer(shop.domain, 77))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer"]["balance"] == 0
    assert [r["title"] for r in body["rewards"]] == ["$5 off"]


def test_limits_fall_back_to_a_count_per_process(proxy, program, member, redis_down, settings):
    settings.STOREFRONT_RATE_LIMITS = {"customer": (2, 60)}

    codes = [proxy.get("api/me").status_code for _ in range(3)]

    assert codes == [200, 200, 429]


def test_writes_record_the_drops_they_could_not_make(
    proxy, program, member, give_points, redis_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        give_points(member, 50)

    assert CacheDrop.objects.filter(key__endswith=f"mv:m:{member.shop_id}:{member.customer_id}")


def test_a_hung_redis_costs_one_short_timeout_not_seconds_per_request(
    proxy, program, member, redis_hung
):
    started = time.monotonic()
    codes = [proxy.get("api/me").status_code for _ in range(10)]
    took = time.monotonic() - started

    assert codes == [200] * 10
    assert took < 2.5  # one socket timeout (0.5 s), then the process backs off for a second


def test_the_analytics_page_answers_while_the_broker_is_down(
    db, client, redis_down, django_capture_on_commit_callbacks
) -> None:
    """Stale rollups queue a refresh from the request: a broker that does not answer is
    logged and the page still answers (the periodic refresh catches up)."""
    from tests.loyalty.test_analytics import URL, auth
    from tests.merchants.embedded_helpers import installed_shop

    shop = installed_shop("down-analytics.myshopify.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(URL, **auth(shop))

    assert response.status_code == 200
