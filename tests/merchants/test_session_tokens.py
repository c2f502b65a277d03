"""Session tokens: the verifier's rules, and the embedded admin's answers to good and bad
tokens (bounce page for documents, 401 + retry header for htmx/fetch, 403 for a shop that
is not installed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
import shopify
from django.conf import settings

from merchants.services import shop_uninstall
from merchants.shopify.session_tokens import (
    RETRY_INVALID_SESSION_HEADER,
    SessionTokenInvalid,
    session_token_verify,
)
from tests.merchants.embedded_helpers import HTML, SHOP, installed_shop, session_token

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

# --- the verifier ------------------------------------------------------------------------


def test_valid_token_yields_its_claims() -> None:
    now = int(time.time())
    claims = session_token_verify(session_token(now=now))

    assert claims.shop_domain == SHOP
    assert claims.sub == "42"
    assert claims.user_id == "42"
    assert claims.sid == "session-1"
    assert claims.exp == now + 60
    assert claims.dest == f"https://{SHOP}"
    assert claims.iss == f"https://{SHOP}/admin"
    assert claims.jti == f"jti-{now}-{SHOP}"
    assert claims.aud == settings.SHOPIFY_API_KEY


def test_shop_domain_is_lower_cased() -> None:
    token = session_token(dest="https://ACME.myshopify.com", iss="https://ACME.myshopify.com/admin")
    assert session_token_verify(token).shop_domain == "acme.myshopify.com"


def _reason(token: str | None, **options: object) -> str:
    with pytest.raises(SessionTokenInvalid) as excinfo:
        session_token_verify(token, **options)  # type: ignore[arg-type]
    assert excinfo.value.http_status == 401
    assert excinfo.value.code == "invalid_session_token"
    return str(excinfo.value)


def test_expired_token_rejected_beyond_leeway_only() -> None:
    now = time.time()
    # Expired 5 s ago: inside the 10 s clock-skew leeway.
    assert session_token_verify(session_token(now=now - 65)).shop_domain == SHOP
    assert "expired" in _reason(session_token(now=now - 75))


def test_nbf_in_future_rejected_beyond_leeway_only() -> None:
    now = int(time.time())
    assert session_token_verify(session_token(nbf=now + 5)).shop_domain == SHOP
    assert "not valid yet" in _reason(session_token(nbf=now + 30))


def test_wrong_audience_rejected() -> None:
    assert "another app" in _reason(session_token(aud="someone-elses-api-key"))


def test_iss_and_dest_hosts_must_match() -> None:
    token = session_token(iss="https://other.myshopify.com/admin")
    assert "iss and dest" in _reason(token)


def test_alg_none_rejected() -> None:
    claims = jwt.decode(session_token(), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")

    assert "HS256" in _reason(unsigned)


def test_alg_none_with_a_forged_header_and_hs256_signature_slot_rejected() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    _, payload, signature = session_token().split(".")
    assert "HS256" in _reason(f"{header.decode()}.{payload}.{signature}")


@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_other_algorithms_rejected_even_with_the_right_secret(algorithm: str) -> None:
    assert "HS256" in _reason(session_token(algorithm=algorithm))


def test_wrong_secret_rejected() -> None:
    assert "signature" in _reason(session_token(secret="not-the-app-secret"))


@pytest.mark.parametrize(
    "dest",
    [
        "https://evil.com",
        "https://x.myshopify.com.evil.com",
        "https://evil.com/x.myshopify.com",
        "https://user@acme.myshopify.com",
        "https://acme.myshopify.com:8443",
        "https://-acme.myshopify.com",
    ],
)
def test_dest_must_be_a_valid_shop(dest: str) -> None:
    iss = dest.rstrip("/") + "/admin"
    assert "dest" in _reason(session_token(dest=dest, iss=iss))


@pytest.mark.parametrize("claim", ["exp", "aud", "dest", "iss"])
def test_required_claims(claim: str) -> None:
    assert repr(claim) in _reason(session_token(**{claim: None}))


def test_missing_and_garbage_tokens_rejected() -> None:
    assert "No session token" in _reason(None)
    assert "No session token" in _reason("")
    assert "well-formed" in _reason("not-a-jwt")
    assert "too long" in _reason("a" * 9000)


def test_checkout_style_token_without_iss_and_with_customer_sub() -> None:
    token = session_token(iss=None, dest=SHOP, sub="gid://shopify/Customer/7")

    claims = session_token_verify(token, require_iss=False)

    assert claims.shop_domain == SHOP
    assert claims.sub == "gid://shopify/Customer/7"
    assert claims.iss == ""
    assert "'iss'" in _reason(token)


def test_custom_audience() -> None:
    token = session_token(aud="extension-client-id")
    assert session_token_verify(token, audience="extension-client-id").shop_domain == SHOP
    assert "another app" in _reason(token)


# --- where the platform's library decides an edge (admin tokens) -------------------------------


@pytest.mark.parametrize("claim", ["sub", "jti", "sid"])
def test_admin_tokens_must_carry_sub_jti_and_sid(claim: str) -> None:
    """Every App Bridge token carries them; the library requires them, Beam keeps that."""
    token = session_token(**{claim: None})

    assert f"lacks the {claim!r} claim" in _reason(token)
    extension_style = session_token(iss=None, sid=None, jti=None, sub=None)
    assert session_token_verify(extension_style, require_iss=False).shop_domain == SHOP


def test_iat_in_the_future_rejected_beyond_leeway_only() -> None:
    now = int(time.time())

    assert session_token_verify(session_token(iat=now + 5)).shop_domain == SHOP
    assert "not valid yet" in _reason(session_token(iat=now + 30))
    assert "not valid yet" in _reason(session_token(iat=now + 30), require_iss=False)


def test_iss_must_be_on_the_same_origin_as_dest_not_only_the_same_host() -> None:
    token = session_token(iss=f"http://{SHOP}/admin")

    assert "iss and dest" in _reason(token)


def _hand_signed(**overrides: object) -> str:
    """A token PyJWT would refuse to mint (e.g. a non-string ``iss``), signed with the app
    secret the way the platform signs."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    claims = jwt.decode(session_token(), options={"verify_signature": False}) | overrides
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps(claims).encode())
    signature = hmac.new(settings.SHOPIFY_API_SECRET.encode(), signing_input, hashlib.sha256)
    return (signing_input + b"." + b64(signature.digest())).decode()


@pytest.mark.parametrize("iss", [5, ["https://acme.myshopify.com/admin"], "https://[acme/admin"])
def test_signed_token_with_an_iss_that_is_not_a_url_is_a_401_not_an_error(iss: object) -> None:
    assert session_token_verify(_hand_signed()).shop_domain == SHOP

    assert "iss" in _reason(_hand_signed(iss=iss))


def test_a_one_character_shops_admin_token_is_refused_by_the_librarys_issuer_check() -> None:
    """The platform's documented pattern allows a one-character shop name (Beam's domain
    check does), the library's issuer check does not; admin tokens follow the library."""
    shop = "x.myshopify.com"

    assert "not a valid shop domain" in _reason(session_token(shop))
    extension = session_token(shop, iss=None, dest=shop, sub="gid://shopify/Customer/7")
    assert session_token_verify(extension, require_iss=False).shop_domain == shop


def test_the_librarys_process_global_session_is_not_used(monkeypatch) -> None:
    monkeypatch.setattr(shopify.Session, "secret", "process-global-secret")
    monkeypatch.setattr(shopify.Session, "api_key", "process-global-key")

    assert session_token_verify(session_token()).shop_domain == SHOP
    assert "signature" in _reason(session_token(secret="process-global-secret"))


# --- the embedded admin over HTTP ----------------------------------------------------------


@pytest.mark.django_db
def test_htmx_request_with_bearer_token_is_served(client) -> None:
    installed_shop()

    response = client.get(
        "/admin/", headers={"HX-Request": "true", "Authorization": f"Bearer {session_token()}"}
    )

    assert response.status_code == 200
    assert response.wsgi_request.shop.domain == SHOP
    assert response.wsgi_request.embedded_shop.domain == SHOP
    assert b"acme.myshopify.com" in response.content
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_document_request_with_id_token_is_served(client) -> None:
    installed_shop()

    response = client.get(f"/admin/?shop={SHOP}&id_token={session_token()}", headers=HTML)

    assert response.status_code == 200
    assert b"Beam for Acme" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    [None, "garbage", "expired"],
)
def test_document_request_without_valid_token_gets_the_bounce_page(client, token) -> None:
    installed_shop()
    value = session_token(now=time.time() - 600) if token == "expired" else token
    query = f"shop={SHOP}&host=YWRtaW4&hmac=stale&timestamp=1" + (
        f"&id_token={value}" if value else ""
    )

    response = client.get(f"/admin/?{query}", headers=HTML)

    assert response.status_code == 200
    assert response.templates[0].name == "merchants/bounce.html"
    # The reload keeps the page's parameters, drops the stale token and signature.
    assert response.context["reload_url"] == f"/admin/?shop={SHOP}&host=YWRtaW4"
    assert b"beam/bounce.js" in response.content
    assert b'<meta name="shopify-api-key" content="beam-test-api-key">' in response.content
    # Devstore mode: the devstore's App Bridge stand-in instead of the CDN script, and its
    # token endpoint as a fallback.
    assert b"cdn.shopify.com" not in response.content
    assert b'<script src="/static/devstore/app-bridge-stub.js"></script>' in response.content
    assert (
        b'content="http://beam.test/devstore/acme.myshopify.com/admin/session-token"'
        in response.content
    )
    assert response["Content-Security-Policy"].startswith(
        f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    )
    assert not hasattr(response.wsgi_request, "shop")


@pytest.mark.django_db
def test_bounce_page_loads_app_bridge_in_production(client, settings) -> None:
    settings.DEVSTORE_ENABLED = False

    response = client.get(f"/admin/?shop={SHOP}", headers=HTML)

    body = response.content.decode()
    meta = body.index('<meta name="shopify-api-key" content="beam-test-api-key">')
    script = body.index('<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js">')
    assert meta < script < body.index("<meta charset")
    assert "session-token" not in body
    assert "devstore" not in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true", "Accept": "text/html"},
        {"Accept": "application/json"},
        {"HX-Request": "true", "Authorization": "Bearer garbage"},
        {"Accept": "*/*", "Authorization": "Basic abc"},
    ],
)
def test_htmx_and_fetch_without_valid_token_get_401_with_retry_header(client, headers) -> None:
    installed_shop()

    response = client.get("/admin/", headers=headers)

    assert response.status_code == 401
    assert response[RETRY_INVALID_SESSION_HEADER] == "1"
    assert response.json()["error"]["code"] == "invalid_session_token"


@pytest.mark.django_db
def test_expired_bearer_token_on_htmx_gets_401(client) -> None:
    installed_shop()
    token = session_token(now=time.time() - 120)

    response = client.get(
        "/admin/", headers={"HX-Request": "true", "Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The session token has expired."


@pytest.mark.django_db
def test_drf_api_authenticates_by_bearer_token(client) -> None:
    installed_shop()

    response = client.get(
        "/admin/api/session", headers={"Authorization": f"Bearer {session_token()}"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "shop": SHOP,
        "name": "Acme",
        "user_id": "42",
        "scopes": sorted(settings.SHOPIFY_SCOPES.split(",")),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Token abc"])
def test_drf_api_rejects_missing_or_invalid_token(client, authorization) -> None:
    installed_shop()
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/admin/api/session", headers=headers)

    assert response.status_code == 401
    assert response[RETRY_INVALID_SESSION_HEADER] == "1"
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"]["code"] == "invalid_session_token"


@pytest.mark.django_db
def test_uninstalled_shops_api_request_rejected(client) -> None:
    shop_uninstall(shop=installed_shop())
    headers = {"Authorization": f"Bearer {session_token()}"}

    api = client.get("/admin/api/session", headers=headers)
    htmx = client.get("/admin/", headers={**headers, "HX-Request": "true"})

    for response in (api, htmx):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "shop_not_installed"
        assert RETRY_INVALID_SESSION_HEADER not in response


@pytest.mark.django_db
def test_unknown_shops_document_request_goes_to_install(client) -> None:
    token = session_token()

    response = client.get(f"/admin/?id_token={token}&host=YWRtaW4", headers=HTML)

    assert response.status_code == 302
    assert response["Location"] == f"/?shop={SHOP}&embedded=1&id_token={token}&host=YWRtaW4"
