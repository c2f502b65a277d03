"""Expiring offline tokens: refresh stores the new pair, and concurrent refreshes of one
shop hit the platform once (row lock in ``shop_token_refresh``)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from merchants.errors import ShopNotInstalled
from merchants.models import Shop
from merchants.services import shop_access_token, shop_token_refresh, shop_uninstall
from merchants.shopify.oauth import TokenGrantRejected
from tests.merchants.embedded_helpers import installed_shop, token_response, token_url


def _expired_shop() -> Shop:
    return installed_shop(access_token_expires_at=timezone.now() - timedelta(minutes=1))


@pytest.mark.django_db
def test_refresh_stores_the_new_token_and_the_new_refresh_token(platform_http) -> None:
    shop = _expired_shop()
    platform_http.add("POST", token_url(), json=token_response("shpat_2", "shprt_2"))

    assert shop_access_token(shop=shop) == "shpat_2"

    body = json.loads(platform_http.calls[0].request.body)
    assert body == {
        "client_id": "beam-test-api-key",
        "client_secret": "beam-test-api-secret",
        "grant_type": "refresh_token",
        "refresh_token": "shprt_old",
    }
    stored = Shop.objects.get(pk=shop.pk)
    assert stored.access_token == "shpat_2"
    assert stored.refresh_token == "shprt_2"
    assert stored.access_token_expires_at > timezone.now() + timedelta(seconds=3500)


@pytest.mark.django_db
def test_fresh_token_is_not_refreshed(platform_http) -> None:
    shop = installed_shop()

    assert shop_access_token(shop=shop) == "shpat_old"
    assert shop_token_refresh(shop=shop).access_token == "shpat_old"
    assert len(platform_http.calls) == 0


@pytest.mark.django_db
def test_rejected_refresh_keeps_the_old_pair(platform_http) -> None:
    shop = _expired_shop()
    platform_http.add("POST", token_url(), status=400, json={"error": "invalid_grant"})

    with pytest.raises(TokenGrantRejected):
        shop_token_refresh(shop=shop)

    stored = Shop.objects.get(pk=shop.pk)
    assert stored.access_token == "shpat_old"
    assert stored.refresh_token == "shprt_old"


@pytest.mark.django_db
def test_uninstalled_shop_has_no_token(platform_http) -> None:
    shop = shop_uninstall(shop=_expired_shop())

    with pytest.raises(ShopNotInstalled):
        shop_access_token(shop=shop)
    with pytest.raises(ShopNotInstalled):
        shop_token_refresh(shop=shop, force=True)
    assert len(platform_http.calls) == 0


@pytest.mark.django_db(transaction=True)
def test_racing_refreshes_call_the_platform_once(platform_http) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no row locks (select_for_update is a no-op)")
    shop_id = _expired_shop().pk
    calls: list[dict] = []
    calls_lock = threading.Lock()

    def refresh_endpoint(request):
        with calls_lock:
            calls.append(json.loads(request.body))
            n = len(calls)
        time.sleep(0.3)  # hold the row lock while the other thread queues on it
        return 200, {}, json.dumps(token_response(f"shpat_new{n}", f"shprt_new{n}"))

    platform_http.add_callback("POST", token_url(), callback=refresh_endpoint)
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            shop = Shop.objects.get(pk=shop_id)  # each thread read the expired token
            barrier.wait(timeout=5)
            results[name] = shop_token_refresh(shop=shop, force=False).access_token
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert errors == []
    assert len(calls) == 1
    assert calls[0]["refresh_token"] == "shprt_old"
    assert results == {"a": "shpat_new1", "b": "shpat_new1"}
    stored = Shop.objects.get(pk=shop_id)
    assert stored.access_token == "shpat_new1"
    assert stored.refresh_token == "shprt_new1"
