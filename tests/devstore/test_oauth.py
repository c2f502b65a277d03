from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
from django.utils import timezone

from devstore import services
from devstore.models import DevAppToken
from devstore.oauth import TOKEN_EXCHANGE
from devstore.signing import query_hmac

KEY, SECRET = "beam-test-api-key", "beam-test-api-secret"
SHOP_QUERY = "{ shop { name } }"


def _token_request(client, shop, body):
    return client.post(
        f"/devstore/{shop.domain}/admin/oauth/access_token",
        data=json.dumps(body),
        content_type="application/json",
    )


def _authorize(client, shop, state="nonce-1"):
    response = client.post(
        f"/devstore/{shop.domain}/admin/oauth/authorize",
        {
            "client_id": KEY,
            "scope": "read_orders,write_discounts",
            "redirect_uri": "http://beam.test/auth/callback",
            "state": state,
        },
    )
    assert response.status_code == 302
    return dict(parse_qsl(urlsplit(response["Location"]).query))


def test_authorize_page_shows_install_button_and_refuses_unknown_client(client, dev_shop):
    url = f"/devstore/{dev_shop.domain}/admin/oauth/authorize"
    ok = client.get(url, {"client_id": KEY, "redirect_uri": "http://beam.test/auth/callback"})
    assert ok.status_code == 200 and b"Install" in ok.content
    assert (
        client.get(url, {"client_id": "nope", "redirect_uri": "http://beam.test/x"}).status_code
        == 400
    )
    evil = client.get(url, {"client_id": KEY, "redirect_uri": "http://evil.test/cb"})
    assert evil.status_code == 400


def test_authorize_redirect_is_signed_and_code_is_single_use(client, dev_shop):
    params = _authorize(client, dev_shop)
    assert params["shop"] == dev_shop.domain and params["state"] == "nonce-1"
    assert abs(int(params["timestamp"]) - time.time()) < 5
    assert params["hmac"] == query_hmac(params, SECRET)

    body = {"client_id": KEY, "client_secret": SECRET, "code": params["code"], "expiring": "1"}
    first = _token_request(client, dev_shop, body)
    assert first.status_code == 200
    data = first.json()
    assert data["scope"] == "read_orders,write_discounts"
    assert data["expires_in"] == 3600
    assert data["access_token"].startswith("shpat_") and data["refresh_token"].startswith("shprt_")
    assert data["refresh_token_expires_in"] > 3600

    again = _token_request(client, dev_shop, body)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"
    assert DevAppToken.objects.count() == 1


def test_code_grant_without_expiring_gives_a_non_expiring_token(client, dev_shop):
    params = _authorize(client, dev_shop)
    data = _token_request(
        client, dev_shop, {"client_id": KEY, "client_secret": SECRET, "code": params["code"]}
    ).json()
    assert set(data) == {"access_token", "scope"}
    assert DevAppToken.objects.get().expires_at is None


def test_wrong_client_secret_is_refused(client, dev_shop):
    params = _authorize(client, dev_shop)
    response = _token_request(
        client, dev_shop, {"client_id": KEY, "client_secret": "wrong", "code": params["code"]}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not DevAppToken.objects.exists()


def _exchange(client, shop, subject_token):
    return _token_request(
        client,
        shop,
        {
            "client_id": KEY,
            "client_secret": SECRET,
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
            "expiring": "1",
        },
    )


def test_token_exchange_with_a_devstore_session_token(client, dev_shop):
    response = _exchange(
        client, dev_shop, services.session_token_issue(shop_domain=dev_shop.domain)
    )
    assert response.status_code == 200
    assert response.json()["expires_in"] == 3600
    dev_shop.refresh_from_db()
    assert dev_shop.app_installed_at is not None


@pytest.mark.parametrize(
    "make_token",
    [
        lambda d: services.session_token_issue(shop_domain=d, exp=int(time.time()) - 60),
        lambda d: services.session_token_issue(shop_domain=d, aud="another-app"),
        lambda d: services.session_token_issue(shop_domain="other.myshopify.com"),
        lambda d: jwt.encode(
            {
                "iss": f"https://{d}/admin",
                "dest": f"https://{d}",
                "aud": KEY,
                "sub": "1",
                "exp": int(time.time()) + 60,
                "nbf": int(time.time()),
                "iat": int(time.time()),
            },
            "not-the-app-secret",
            algorithm="HS256",
        ),
        lambda d: "garbage",
    ],
    ids=["expired", "wrong-aud", "other-shop", "wrong-secret", "garbage"],
)
def test_token_exchange_rejects_invalid_session_tokens(client, dev_shop, make_token):
    response = _exchange(client, dev_shop, make_token(dev_shop.domain))
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_subject_token"}
    assert not DevAppToken.objects.exists()


def test_refresh_rotates_and_invalidates_the_old_refresh_token(client, dev_shop):
    first = _exchange(
        client, dev_shop, services.session_token_issue(shop_domain=dev_shop.domain)
    ).json()
    refresh = {"client_id": KEY, "client_secret": SECRET, "grant_type": "refresh_token"}
    second = _token_request(client, dev_shop, {**refresh, "refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]

    reused = _token_request(client, dev_shop, {**refresh, "refresh_token": first["refresh_token"]})
    assert reused.status_code == 400
    third = _token_request(client, dev_shop, {**refresh, "refresh_token": rotated["refresh_token"]})
    assert third.status_code == 200


def test_graphql_refuses_expired_unknown_and_revoked_tokens(client, dev_shop, access_token, gql):
    assert gql(SHOP_QUERY).status_code == 200
    assert gql(SHOP_QUERY, token="shpat_unknown").status_code == 401
    assert gql(SHOP_QUERY, token="").status_code == 401

    DevAppToken.objects.filter(access_token=access_token).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = gql(SHOP_QUERY)
    assert expired.status_code == 401
    assert expired.json()["errors"].startswith("[API] Invalid API key or access token")


def test_app_uninstall_revokes_tokens(client, dev_shop, access_token, gql):
    services.app_uninstall(dev_shop)
    assert gql(SHOP_QUERY).status_code == 401
    dev_shop.refresh_from_db()
    assert dev_shop.app_installed_at is None


def test_unknown_or_invalid_shop_is_404(client, db):
    assert client.post("/devstore/nope.myshopify.com/admin/oauth/access_token").status_code == 404
    assert client.get("/devstore/evil.com/").status_code == 404
