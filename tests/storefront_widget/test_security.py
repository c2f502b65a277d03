"""Who may ask what: the app-proxy signature (always checked), the timestamp window, the shop's
install, and the shopper identity taken only from ``logged_in_customer_id``."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings
from django.utils import timezone

from loyalty.models import LedgerEntry, Redemption
from merchants.shopify.signatures import app_proxy_message, app_proxy_signature_compute
from tests.storefront_widget.conftest import signed_query

pytestmark = pytest.mark.django_db

VECTOR_QUERY = [
    ("extra", "1"),
    ("extra", "2"),
    ("shop", "shop-name.myshopify.com"),
    ("path_prefix", "/apps/awesome_reviews"),
    ("timestamp", "1317327555"),
]


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        ("1", "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"),
        ("", "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb"),
    ],
)
def test_platform_vectors(customer, expected):
    pairs = [*VECTOR_QUERY, ("logged_in_customer_id", customer)]
    assert app_proxy_signature_compute(pairs, secret="hush") == expected
    assert "extra=1,2" in app_proxy_message(pairs)


@pytest.mark.parametrize("path", ["api/program", "api/me", ""])
def test_missing_signature_is_401(client, shop, path):
    response = client.get(
        f"/proxy/{path}?shop={shop.domain}&logged_in_customer_id=1&timestamp={int(time.time())}"
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_signature"


def test_bad_signature_is_401(client, shop, customer):
    query = signed_query(shop.domain, customer.id, secret="not-the-secret")

    response = client.get(f"/proxy/api/me?{query}")

    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "invalid_signature",
        "message": "The app-proxy signature does not match.",
    }


def test_tampered_customer_id_breaks_the_signature(client, shop, customer, other_customer):
    query = signed_query(shop.domain, customer.id)
    forged = query.replace(
        f"logged_in_customer_id={customer.id}", f"logged_in_customer_id={other_customer.id}"
    )

    response = client.get(f"/proxy/api/me?{forged}")

    assert response.status_code == 401


@pytest.mark.parametrize("age", [-3600, 91, 3600])
def test_stale_or_future_timestamp_is_401(client, shop, customer, age):
    query = signed_query(shop.domain, customer.id, timestamp=int(time.time()) - age)

    response = client.get(f"/proxy/api/me?{query}")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "stale_signature"


@override_settings(DEBUG=True)
def test_signature_is_checked_in_debug_too(client, shop):
    response = client.get(f"/proxy/api/program?shop={shop.domain}")

    assert response.status_code == 401


def test_uninstalled_shop_is_403(client, shop, customer):
    shop.uninstalled_at = timezone.now()
    shop.save()

    response = client.get(f"/proxy/api/program?{signed_query(shop.domain, customer.id)}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "shop_not_installed"


def test_unknown_shop_is_403(client, db):
    response = client.get(f"/proxy/api/program?{signed_query('nobody.myshopify.com', None)}")

    assert response.status_code == 403


def test_non_numeric_customer_id_is_400(client, shop):
    query = signed_query(shop.domain, None).replace(
        "logged_in_customer_id=", "logged_in_customer_id=abc"
    )
    # re-sign the tampered query so only the id's shape is wrong
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if not p.startswith("signature=")]
    from urllib.parse import unquote, urlencode

    pairs = [(k, unquote(v)) for k, v in pairs]
    pairs.append(("signature", app_proxy_signature_compute(pairs, secret="beam-test-api-secret")))

    response = client.get(f"/proxy/api/me?{urlencode(pairs)}")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_customer"


def test_browser_supplied_customer_headers_and_body_are_ignored(
    proxy, program, rewards, member, give_points
):
    give_points(member, 800)

    response = proxy.get("api/me", customer=None, headers={"X-Customer-Id": str(member.pk)})

    assert response.json()["member"] is None


def test_another_customers_redemption_cannot_be_read_or_cancelled(
    proxy, program, rewards, member, other_customer, give_points, django_capture_on_commit_callbacks
):
    give_points(member, 1200)
    with django_capture_on_commit_callbacks(execute=True):
        red = proxy.post(
            "api/redeem", {"reward_id": str(rewards["five"].pk), "client_key": "k-secure-0001"}
        ).json()["redemption"]

    read = proxy.get(f"api/redemptions/{red['id']}", customer=other_customer.id)
    cancel = proxy.post(f"api/redemptions/{red['id']}/cancel", {}, customer=other_customer.id)
    guest = proxy.get(f"api/redemptions/{red['id']}", customer=None)

    assert read.status_code == 404
    assert read.json()["error"]["code"] == "redemption_not_found"
    assert cancel.status_code == 404
    assert guest.status_code == 401
    assert Redemption.objects.get(pk=red["id"]).status == "issued"
    member.refresh_from_db()
    assert member.balance == 700
    other = proxy.get("api/me", customer=other_customer.id).json()
    assert other["redemptions"] == [] and other["member"]["balance"] == 0


def test_another_shops_redemption_is_not_reachable(
    client, proxy, program, rewards, member, give_points, django_capture_on_commit_callbacks
):
    from tests.storefront_widget.conftest import ProxyClient

    give_points(member, 1200)
    with django_capture_on_commit_callbacks(execute=True):
        red = proxy.post(
            "api/redeem", {"reward_id": str(rewards["five"].pk), "client_key": "k-secure-0002"}
        ).json()["redemption"]
    from merchants.models import Shop

    other = Shop(domain="other-sf.myshopify.com", installed_at=timezone.now())
    other.access_token = "shpat_other"
    other.save()

    response = ProxyClient(client, other, member.customer_id).get(f"api/redemptions/{red['id']}")

    assert response.status_code == 404


def test_replayed_redeem_with_the_same_client_key_spends_once(
    proxy, program, rewards, member, give_points, django_capture_on_commit_callbacks
):
    give_points(member, 1200)
    body = {"reward_id": str(rewards["five"].pk), "client_key": "k-replay-000001"}

    with django_capture_on_commit_callbacks(execute=True):
        first = proxy.post("api/redeem", body)
    with django_capture_on_commit_callbacks(execute=True):
        second = proxy.post("api/redeem", body)

    assert first.status_code == second.status_code == 201
    assert first.json()["redemption"]["id"] == second.json()["redemption"]["id"]
    assert second.json()["redemption"]["status"] == "issued"
    member.refresh_from_db()
    assert member.balance == 700
    assert Redemption.objects.filter(member=member).count() == 1
    assert LedgerEntry.objects.filter(member=member, kind="redeem").count() == 1


def test_client_key_is_per_shopper(
    proxy, program, rewards, member, other_customer, give_points, shop
):
    """Another shopper reusing a key gets their own decision, not the first one's code."""
    from tests.loyalty.factories import MemberFactory

    other = MemberFactory(shop=shop, customer_id=other_customer.id)
    give_points(member, 1200)
    body = {"reward_id": str(rewards["five"].pk), "client_key": "k-shared-00001"}

    proxy.post("api/redeem", body)
    response = proxy.post("api/redeem", body, customer=other_customer.id)

    assert response.status_code == 409
    other.refresh_from_db()
    assert other.balance == 0
