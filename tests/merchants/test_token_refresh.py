"""Expiring offline tokens: refresh stores the new pair, and concurrent refreshes of one
shop hit the platform once (row lock in ``shop_token_refresh``)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from merchants.errors import ShopifyAuthError, ShopNotInstalled
from merchants.models import Shop
from merchants.services import (
    shop_access_token,
    shop_needs_token_exchange,
    shop_token_refresh,
    shop_uninstall,
)
from merchants.shopify.client import AdminClient
from merchants.shopify.oauth import ONLINE_TOKEN_TYPE, TokenGrantRejected
from tests.merchants.embedded_helpers import (
    HTML,
    SHOP,
    installed_shop,
    session_token,
    signed_query,
    token_response,
    token_url,
)


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
def test_the_shop_row_is_write_locked_before_the_platform_issues_the_token(platform_http) -> None:
    """Under ``make run`` (SQLite, WAL) the refresh read the shop, the platform issued a new
    token, and saving it failed with ``database is locked``: a transaction that has only read
    cannot write after another connection committed. The row is written first, so the write
    lock is held across the platform call and storing the new pair cannot fail on it."""
    shop = _expired_shop()
    seen: list[list[str]] = []

    def refresh_endpoint(request):
        seen.append([q["sql"] for q in queries.captured_queries])
        return 200, {}, json.dumps(token_response("shpat_2", "shprt_2"))

    platform_http.add_callback("POST", token_url(), callback=refresh_endpoint)

    with CaptureQueriesContext(connection) as queries:
        shop_token_refresh(shop=shop)

    table = Shop._meta.db_table
    assert len(seen) == 1
    assert any(sql.startswith(f'UPDATE "{table}"') for sql in seen[0])
    assert Shop.objects.get(pk=shop.pk).access_token == "shpat_2"


@pytest.mark.django_db
def test_fresh_token_is_not_refreshed(platform_http) -> None:
    shop = installed_shop()

    assert shop_access_token(shop=shop) == "shpat_old"
    assert shop_token_refresh(shop=shop).access_token == "shpat_old"
    assert len(platform_http.calls) == 0


@pytest.mark.django_db
def test_rejected_refresh_leaves_the_shop_waiting_for_a_token_exchange(platform_http) -> None:
    shop = _expired_shop()
    expired_at = shop.access_token_expires_at
    platform_http.add("POST", token_url(), status=400, json={"error": "invalid_grant"})

    with pytest.raises(TokenGrantRejected):
        shop_token_refresh(shop=shop)

    stored = Shop.objects.get(pk=shop.pk)
    assert stored.access_token == "shpat_old"
    assert stored.access_token_expires_at == expired_at
    assert (stored.refresh_token_encrypted, stored.refresh_token_expires_at) == ("", None)
    assert stored.is_active and shop_needs_token_exchange(stored)
    # the refused refresh token is never sent again: the next call fails without the platform
    with pytest.raises(TokenGrantRejected, match="open Beam from the store admin"):
        shop_access_token(shop=stored)
    assert len(platform_http.calls) == 1


@pytest.mark.django_db
def test_a_refused_refresh_is_an_auth_error_for_platform_callers(platform_http) -> None:
    """What a redemption's issue step sees: a platform error it retries and finally refunds,
    not an unexpected exception that leaves the redemption pending."""
    shop = _expired_shop()
    platform_http.add("POST", token_url(), status=400, json={"error": "invalid_grant"})

    with pytest.raises(ShopifyAuthError, match="token refresh refused"):
        AdminClient(shop).execute("{ shop { name } }")
    with pytest.raises(ShopifyAuthError, match="token refresh refused"):
        AdminClient(Shop.objects.get(pk=shop.pk)).execute("{ shop { name } }")

    assert [call.request.url for call in platform_http.calls] == [token_url()]


@pytest.mark.django_db
def test_the_next_admin_load_reconnects_by_token_exchange_and_says_so(
    client, platform_http
) -> None:
    shop = installed_shop(access_token_expires_at=timezone.now() - timedelta(minutes=1))
    platform_http.add("POST", token_url(), status=400, json={"error": "invalid_grant"})
    with pytest.raises(TokenGrantRejected):
        shop_token_refresh(shop=shop)
    platform_http.replace("POST", token_url(), json=token_response("shpat_X", "shprt_X"))

    def admin_load():
        query = signed_query(
            {"shop": SHOP, "host": "YWRtaW4", "embedded": "1", "id_token": session_token()}
        )
        return client.get(f"/?{query}", headers=HTML)

    response = admin_load()

    assert response.status_code == 200
    assert b'id="beam-reconnected"' in response.content
    grants = [json.loads(c.request.body) for c in platform_http.calls]
    offline = [g for g in grants if g.get("requested_token_type") != ONLINE_TOKEN_TYPE]
    assert offline[-1]["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    stored = Shop.objects.get(pk=shop.pk)
    assert (stored.access_token, stored.refresh_token) == ("shpat_X", "shprt_X")
    assert stored.installed_at == shop.installed_at
    assert not shop_needs_token_exchange(stored)
    # reconnected: the next load is an ordinary one
    response = admin_load()
    assert response.status_code == 200
    assert b'id="beam-reconnected"' not in response.content
    grants = [json.loads(c.request.body) for c in platform_http.calls]
    assert len([g for g in grants if g.get("requested_token_type") != ONLINE_TOKEN_TYPE]) == 2


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
