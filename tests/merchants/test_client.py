"""The Admin GraphQL client: URL, headers, timeout, throttling, retries, auth, user errors."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.test import override_settings
from django.utils import timezone

from merchants.errors import ShopifyApiError, ShopifyAuthError, ShopifyUserError, ShopNotInstalled
from merchants.models import Shop
from merchants.shopify.client import AdminClient, graphql_url

pytestmark = pytest.mark.django_db

DOMAIN = "client-test.myshopify.com"
URL = f"http://beam.test/devstore/{DOMAIN}/admin/api/2026-10/graphql.json"
DOC = "query { shop { name } }"


def _cost(requested: int = 10, available: float = 990.0, rate: float = 100.0) -> dict:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": 1000.0,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


OK_BODY = {"data": {"shop": {"name": "Acme"}}, "extensions": _cost()}


@pytest.fixture
def shop() -> Shop:
    shop = Shop(domain=DOMAIN, installed_at=timezone.now(), scopes="write_discounts")
    shop.access_token = "shpat_old"
    shop.save()
    return shop


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(shop: Shop, sleeps: Sleeps) -> AdminClient:
    return AdminClient(shop, sleep=sleeps)


def _bodies(mock: responses.RequestsMock) -> list[dict]:
    return [json.loads(call.request.body) for call in mock.calls]


def test_url_uses_store_origin_and_pinned_version() -> None:
    assert graphql_url(DOMAIN) == URL
    with override_settings(SHOPIFY_STORE_ORIGIN="https://{shop}", SHOPIFY_API_VERSION="2027-01"):
        assert graphql_url(DOMAIN) == f"https://{DOMAIN}/admin/api/2027-01/graphql.json"


def test_success_sends_token_document_variables_and_timeout(
    client: AdminClient, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    platform_http.add(responses.POST, URL, json=OK_BODY)

    with override_settings(SHOPIFY_HTTP_TIMEOUT=7.5):
        result = AdminClient(client.shop, sleep=sleeps).execute(DOC, {"a": 1})

    assert result.data == {"shop": {"name": "Acme"}}
    assert result.cost is not None and result.cost.requested == 10
    assert result.cost.throttle is not None and result.cost.throttle.restore_rate == 100.0
    (call,) = platform_http.calls
    assert call.request.headers["X-Shopify-Access-Token"] == "shpat_old"
    assert json.loads(call.request.body) == {"query": DOC, "variables": {"a": 1}}
    assert call.request.req_kwargs["timeout"] == 7.5
    assert sleeps == []


def test_default_timeout_is_the_setting(shop: Shop, settings) -> None:
    assert AdminClient(shop).timeout == settings.SHOPIFY_HTTP_TIMEOUT


def test_throttled_waits_per_throttle_status_then_retries(
    client: AdminClient, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": _cost(requested=300, available=50.0, rate=100.0),
    }
    platform_http.add(responses.POST, URL, json=throttled)
    platform_http.add(responses.POST, URL, json=OK_BODY)

    result = client.execute(DOC)

    assert result.data == {"shop": {"name": "Acme"}}
    assert sleeps == [2.5]  # (300 - 50) / 100
    assert len(platform_http.calls) == 2


def test_throttled_past_the_wait_budget_raises_with_retry_after(
    shop: Shop, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": _cost(requested=1000, available=0.0, rate=50.0),
    }
    platform_http.add(responses.POST, URL, json=throttled)

    with pytest.raises(ShopifyApiError) as caught:
        AdminClient(shop, sleep=sleeps, max_total_wait=10.0).execute(DOC)

    assert caught.value.code == "platform_throttled"
    assert caught.value.retry_after == 20.0
    assert sleeps == []
    assert len(platform_http.calls) == 1


def test_throttled_every_time_gives_up_after_max_attempts(
    client: AdminClient, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": _cost(requested=100, available=0.0, rate=100.0),
    }
    platform_http.add(responses.POST, URL, json=throttled)

    with pytest.raises(ShopifyApiError) as caught:
        client.execute(DOC)

    assert caught.value.code == "platform_throttled"
    assert sleeps == [1.0, 1.0, 1.0]
    assert len(platform_http.calls) == 4


def test_429_honours_retry_after(
    client: AdminClient, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    platform_http.add(responses.POST, URL, status=429, headers={"Retry-After": "2.0"}, body="")
    platform_http.add(responses.POST, URL, json=OK_BODY)

    assert client.execute(DOC).data == {"shop": {"name": "Acme"}}
    assert sleeps == [2.0]


def test_5xx_retries_with_backoff_then_succeeds(
    client: AdminClient, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    platform_http.add(responses.POST, URL, status=502, body="bad gateway")
    platform_http.add(responses.POST, URL, status=503, body="unavailable")
    platform_http.add(responses.POST, URL, json=OK_BODY)

    assert client.execute(DOC).data == {"shop": {"name": "Acme"}}
    assert sleeps == [0.5, 1.0]


def test_5xx_every_time_raises_api_error_after_bounded_retries(
    client: AdminClient, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    platform_http.add(responses.POST, URL, status=500, body="boom")

    with pytest.raises(ShopifyApiError) as caught:
        client.execute(DOC)

    assert type(caught.value) is ShopifyApiError
    assert caught.value.code == "platform_error"
    assert len(platform_http.calls) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_network_errors_retry_then_raise(
    client: AdminClient, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    platform_http.add(responses.POST, URL, body=requests.ConnectionError("reset"))
    platform_http.add(responses.POST, URL, body=requests.Timeout("slow"))
    platform_http.add(responses.POST, URL, json=OK_BODY)

    assert client.execute(DOC).data == {"shop": {"name": "Acme"}}
    assert sleeps == [0.5, 1.0]

    platform_http.replace(responses.POST, URL, body=requests.ConnectionError("down"))
    with pytest.raises(ShopifyApiError):
        client.execute(DOC)


def test_total_wait_is_capped(
    shop: Shop, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    platform_http.add(responses.POST, URL, status=500, body="boom")

    with pytest.raises(ShopifyApiError):
        AdminClient(shop, sleep=sleeps, max_attempts=10, max_total_wait=3.0).execute(DOC)

    assert sleeps == [0.5, 1.0]  # the next 2.0 would pass the 3 s budget
    assert sum(sleeps) <= 3.0


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> list[Shop]:
    """``shop_token_refresh`` stand-in: stores a new token like the real one would."""
    from merchants import services

    calls: list[Shop] = []

    def fake_refresh(*, shop: Shop, force: bool = False) -> Shop:
        assert force is True
        calls.append(shop)
        fresh = Shop.objects.get(pk=shop.pk)
        fresh.access_token = "shpat_new"
        fresh.access_token_expires_at = timezone.now() + timedelta(hours=1)
        fresh.save()
        return fresh

    monkeypatch.setattr(services, "shop_token_refresh", fake_refresh)
    return calls


def test_401_refreshes_once_and_retries_with_the_new_token(
    client: AdminClient, platform_http: responses.RequestsMock, refreshes: list[Shop]
) -> None:
    platform_http.add(responses.POST, URL, status=401, json={"errors": "Invalid token"})
    platform_http.add(responses.POST, URL, json=OK_BODY)

    assert client.execute(DOC).data == {"shop": {"name": "Acme"}}

    assert len(refreshes) == 1
    tokens = [call.request.headers["X-Shopify-Access-Token"] for call in platform_http.calls]
    assert tokens == ["shpat_old", "shpat_new"]
    assert client.shop.access_token == "shpat_new"


def test_401_after_refresh_raises_auth_error(
    client: AdminClient, platform_http: responses.RequestsMock, refreshes: list[Shop]
) -> None:
    platform_http.add(responses.POST, URL, status=401, json={"errors": "Invalid token"})

    with pytest.raises(ShopifyAuthError):
        client.execute(DOC)

    assert len(refreshes) == 1
    assert len(platform_http.calls) == 2


def test_401_with_nothing_to_refresh_raises_without_retrying(
    client: AdminClient, platform_http: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from merchants import services

    monkeypatch.setattr(services, "shop_token_refresh", lambda *, shop, force: shop)
    platform_http.add(responses.POST, URL, status=401, json={"errors": "Invalid token"})

    with pytest.raises(ShopifyAuthError):
        client.execute(DOC)

    assert len(platform_http.calls) == 1


def test_refused_refresh_raises_auth_error(
    client: AdminClient, platform_http: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from merchants import services
    from merchants.shopify.oauth import TokenGrantRejected

    def refused_refresh(*, shop: Shop, force: bool) -> Shop:
        raise TokenGrantRejected("invalid_grant")

    monkeypatch.setattr(services, "shop_token_refresh", refused_refresh)
    platform_http.add(responses.POST, URL, status=401, json={"errors": "Invalid token"})

    with pytest.raises(ShopifyAuthError) as caught:
        client.execute(DOC)

    assert isinstance(caught.value.__cause__, TokenGrantRejected)
    assert len(platform_http.calls) == 1


def test_unreachable_refresh_stays_a_retryable_api_error(
    client: AdminClient, platform_http: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from merchants import services

    def unreachable_refresh(*, shop: Shop, force: bool) -> Shop:
        raise ShopifyApiError("Token endpoint unreachable: ConnectionError")

    monkeypatch.setattr(services, "shop_token_refresh", unreachable_refresh)
    platform_http.add(responses.POST, URL, status=401, json={"errors": "Invalid token"})

    with pytest.raises(ShopifyApiError) as caught:
        client.execute(DOC)

    assert type(caught.value) is ShopifyApiError


def test_401_uses_the_real_refresh_against_the_token_endpoint(
    shop: Shop, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    shop.refresh_token = "shprt_old"
    shop.access_token_expires_at = timezone.now() + timedelta(hours=1)
    shop.save()
    token_url = f"http://beam.test/devstore/{DOMAIN}/admin/oauth/access_token"
    platform_http.add(
        responses.POST,
        token_url,
        json={
            "access_token": "shpat_refreshed",
            "scope": "write_discounts",
            "expires_in": 3600,
            "refresh_token": "shprt_new",
            "refresh_token_expires_in": 7776000,
        },
    )
    platform_http.add(responses.POST, URL, status=401, json={"errors": "Invalid token"})
    platform_http.add(responses.POST, URL, json=OK_BODY)

    assert AdminClient(shop, sleep=sleeps).execute(DOC).data == {"shop": {"name": "Acme"}}

    graphql_calls = [c for c in platform_http.calls if c.request.url == URL]
    assert [c.request.headers["X-Shopify-Access-Token"] for c in graphql_calls] == [
        "shpat_old",
        "shpat_refreshed",
    ]
    stored = Shop.objects.get(pk=shop.pk)
    assert (stored.access_token, stored.refresh_token) == ("shpat_refreshed", "shprt_new")


def test_user_errors_raise_shopify_user_error(
    client: AdminClient, platform_http: responses.RequestsMock
) -> None:
    user_errors = [{"field": ["tags"], "message": "Tags is invalid"}]
    platform_http.add(
        responses.POST,
        URL,
        json={
            "data": {"tagsAdd": {"node": None, "userErrors": user_errors}},
            "extensions": _cost(),
        },
    )

    with pytest.raises(ShopifyUserError) as caught:
        client.mutate("mutation { x }", {}, root="tagsAdd")

    assert caught.value.user_errors == user_errors
    assert caught.value.http_status == 422
    assert "Tags is invalid" in str(caught.value)


def test_graphql_errors_raise_without_retry(
    client: AdminClient, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    platform_http.add(
        responses.POST,
        URL,
        json={"errors": [{"message": "Field 'nope' doesn't exist on type 'Shop'"}]},
    )

    with pytest.raises(ShopifyApiError, match="doesn't exist"):
        client.execute(DOC)

    assert len(platform_http.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_4xx_raise_without_retry(
    client: AdminClient, platform_http: responses.RequestsMock, status: int
) -> None:
    platform_http.add(responses.POST, URL, status=status, json={"errors": "nope"})

    with pytest.raises(ShopifyApiError, match=f"HTTP {status}"):
        client.execute(DOC)

    assert len(platform_http.calls) == 1


def test_non_json_200_raises(client: AdminClient, platform_http: responses.RequestsMock) -> None:
    platform_http.add(responses.POST, URL, body="<html>maintenance</html>")

    with pytest.raises(ShopifyApiError, match="non-JSON"):
        client.execute(DOC)


def test_uninstalled_shop_is_refused_before_any_http(
    shop: Shop, platform_http: responses.RequestsMock, sleeps: Sleeps
) -> None:
    shop.uninstalled_at = timezone.now()
    shop.save()
    platform_http.add(responses.POST, URL, json=OK_BODY)

    with pytest.raises(ShopNotInstalled):
        AdminClient(shop, sleep=sleeps).execute(DOC)

    assert len(platform_http.calls) == 0
