"""Install: the authorization-code grant (/auth/install → /auth/callback) and the managed
install through token exchange at the App URL. Every request is signed like the platform's;
the token endpoint is stubbed on the platform HTTP mock."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import shopify
from django.conf import settings
from django.utils import timezone

from merchants.models import Shop
from merchants.services import shop_uninstall
from merchants.shopify import oauth
from merchants.shopify.oauth import ONLINE_TOKEN_TYPE
from merchants.tasks import shop_details_sync
from merchants.views.install import OAUTH_STATE_COOKIE
from tests.merchants.embedded_helpers import (
    HTML,
    SHOP,
    installed_shop,
    session_token,
    signed_query,
    token_response,
    token_url,
)

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

# What a grant of ``write_orders`` alone lacks of the test settings' scopes, in their order.
MISSING_WITH_WRITE_ORDERS_ONLY = [
    "read_customers",
    "write_customers",
    "write_discounts",
    "read_products",
    "write_store_credit_account_transactions",
]


def _start_install(client, shop: str = SHOP) -> str:
    """GET /auth/install; returns the state the redirect carries."""
    response = client.get(f"/auth/install?shop={shop}")
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def _callback(client, state: str, *, shop: str = SHOP, code: str = "code-1", **kwargs):
    query = signed_query({"code": code, "shop": shop, "state": state, "host": "YWRtaW4"}, **kwargs)
    return client.get(f"/auth/callback?{query}")


def _token_requests(mock: responses.RequestsMock, shop: str = SHOP) -> list[dict]:
    """The grants asked for the shop's token (the online exchange that names the staff member
    is tested in test_staff_members.py)."""
    bodies = [json.loads(c.request.body) for c in mock.calls if c.request.url == token_url(shop)]
    return [b for b in bodies if b.get("requested_token_type") != ONLINE_TOKEN_TYPE]


# --- /auth/install --------------------------------------------------------------------------


def test_install_redirects_to_consent_with_state_cookie(client) -> None:
    response = client.get(f"/auth/install?shop={SHOP}")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"http://beam.test/devstore/{SHOP}/admin/oauth/authorize"
    )
    query = parse_qs(location.query)
    assert query["client_id"] == ["beam-test-api-key"]
    assert query["scope"] == [settings.SHOPIFY_SCOPES]
    assert query["redirect_uri"] == ["http://beam.test/auth/callback"]
    state = query["state"][0]
    assert len(state) >= 32
    cookie = response.cookies[OAUTH_STATE_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"] is True  # DEBUG is off in tests
    assert cookie["max-age"] == 600
    assert cookie["path"] == "/auth/"
    # Signed (value:timestamp:signature) and bound to the shop.
    assert cookie.value.startswith(f"{SHOP}|{state}:")
    assert cookie.value.count(":") == 2


def test_production_authorize_url_is_the_shops_own_domain(settings) -> None:
    settings.SHOPIFY_STORE_ORIGIN = "https://{shop}"
    url = oauth.authorize_url(shop_domain=SHOP, state="n1")
    assert url.startswith(f"https://{SHOP}/admin/oauth/authorize?client_id=beam-test-api-key&")
    assert url.endswith("&state=n1")


def test_authorize_url_is_the_librarys_permission_url_with_explicit_credentials(
    settings, monkeypatch
) -> None:
    settings.SHOPIFY_STORE_ORIGIN = "https://{shop}"
    settings.SHOPIFY_SCOPES = "read_orders,write_discounts"
    monkeypatch.setattr(shopify.Session, "api_key", "process-global-key")

    url = oauth.authorize_url(shop_domain="x.myshopify.com", state="n 1")

    assert url == (
        "https://x.myshopify.com/admin/oauth/authorize?client_id=beam-test-api-key"
        "&scope=read_orders%2Cwrite_discounts"
        "&redirect_uri=http%3A%2F%2Fbeam.test%2Fauth%2Fcallback&state=n+1"
    )
    settings.SHOPIFY_API_KEY = "rotated-key"
    assert "?client_id=rotated-key&" in oauth.authorize_url(shop_domain=SHOP, state="n1")
    assert shopify.Session.api_key == "process-global-key"


@pytest.mark.parametrize(
    "shop",
    ["evil.com/x.myshopify.com", "x.myshopify.com.evil.com", "evil.com", "", "x.myshopify.com/"],
)
def test_install_rejects_bad_shop(client, shop: str) -> None:
    response = client.get("/auth/install", {"shop": shop})

    assert response.status_code == 400
    assert b"myshopify.com domain" in response.content
    assert OAUTH_STATE_COOKIE not in response.cookies
    assert response["Content-Security-Policy"] == "frame-ancestors 'none';"


# --- /auth/callback -------------------------------------------------------------------------


@pytest.mark.django_db
def test_callback_installs_with_an_expiring_token_stored_encrypted(
    client, platform_http, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(shop_details_sync, "delay", synced.append)
    platform_http.add("POST", token_url(), json=token_response("shpat_A", "shprt_A"))
    state = _start_install(client)
    before = timezone.now()

    with django_capture_on_commit_callbacks() as callbacks:
        response = _callback(client, state)

    assert response.status_code == 302
    assert response["Location"] == f"http://beam.test/devstore/{SHOP}/admin/apps/beam"
    assert response.cookies[OAUTH_STATE_COOKIE].value == ""  # nonce consumed
    assert _token_requests(platform_http) == [
        {
            "client_id": "beam-test-api-key",
            "client_secret": "beam-test-api-secret",
            "code": "code-1",
            "expiring": "1",
        }
    ]
    shop = Shop.objects.get(domain=SHOP)
    assert shop.access_token == "shpat_A"
    assert shop.refresh_token == "shprt_A"
    assert "shpat_A" not in shop.access_token_encrypted
    assert "shprt_A" not in shop.refresh_token_encrypted
    assert before + timedelta(seconds=3590) <= shop.access_token_expires_at
    assert shop.access_token_expires_at <= timezone.now() + timedelta(seconds=3600)
    assert shop.refresh_token_expires_at > timezone.now() + timedelta(days=89)
    assert shop.scopes == settings.SHOPIFY_SCOPES
    assert shop.installed_at >= before
    assert shop.uninstalled_at is None
    assert len(callbacks) == 1  # the shop details sync, after commit
    assert synced == []
    callbacks[0]()
    assert synced == [shop.pk]


def test_production_redirect_goes_to_the_admin(settings) -> None:
    settings.DEVSTORE_ENABLED = False
    assert oauth.embedded_app_url(shop_domain=SHOP) == (
        "https://admin.shopify.com/store/acme/apps/beam-test-api-key"
    )


def _assert_nothing_stored(platform_http) -> None:
    assert not Shop.objects.exists()
    assert _token_requests(platform_http) == []


@pytest.mark.django_db
def test_callback_rejects_bad_hmac(client, platform_http) -> None:
    platform_http.add("POST", token_url(), json=token_response())
    state = _start_install(client)

    response = _callback(client, state, secret="not-the-secret")

    assert response.status_code == 400
    assert b"HMAC signature does not match" in response.content
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_callback_rejects_tampered_query(client, platform_http) -> None:
    platform_http.add("POST", token_url(), json=token_response())
    state = _start_install(client)
    query = signed_query({"code": "code-1", "shop": SHOP, "state": state})

    response = client.get(f"/auth/callback?{query.replace('code-1', 'code-2')}")

    assert response.status_code == 400
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
@pytest.mark.parametrize("age", [-(settings.SHOPIFY_HMAC_MAX_AGE + 30), 3600])
def test_callback_rejects_stale_timestamp(client, platform_http, age: int) -> None:
    platform_http.add("POST", token_url(), json=token_response())
    state = _start_install(client)

    response = _callback(client, state, timestamp=int(time.time()) - age)

    assert response.status_code == 400
    assert b"timestamp is missing or too old" in response.content
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_callback_rejects_wrong_nonce(client, platform_http) -> None:
    platform_http.add("POST", token_url(), json=token_response())
    _start_install(client)

    response = _callback(client, "forged-state")

    assert response.status_code == 403
    assert b"state does not match" in response.content
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_callback_replayed_with_its_cookie_is_refused_and_the_code_not_sent_again(
    client, platform_http
) -> None:
    platform_http.add("POST", token_url(), json=token_response())
    state = _start_install(client)
    cookie = client.cookies[OAUTH_STATE_COOKIE].value
    first = _callback(client, state)
    shop_after_first = Shop.objects.values_list("pk", "access_token_expires_at").get()
    client.cookies[OAUTH_STATE_COOKIE] = cookie

    replay = _callback(client, state)

    assert first.status_code == 302
    assert replay.status_code == 403
    assert b"already used" in replay.content
    assert len(_token_requests(platform_http)) == 1
    assert Shop.objects.values_list("pk", "access_token_expires_at").get() == shop_after_first


@pytest.mark.django_db
def test_callback_rejects_missing_cookie(client, platform_http) -> None:
    platform_http.add("POST", token_url(), json=token_response())
    state = _start_install(client)
    client.cookies.pop(OAUTH_STATE_COOKIE)

    response = _callback(client, state)

    assert response.status_code == 403
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_callback_rejects_unsigned_cookie(client, platform_http) -> None:
    platform_http.add("POST", token_url(), json=token_response())
    client.cookies[OAUTH_STATE_COOKIE] = f"{SHOP}|nonce-1"

    response = _callback(client, "nonce-1")

    assert response.status_code == 403
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_callback_rejects_expired_cookie(client, platform_http, monkeypatch) -> None:
    platform_http.add("POST", token_url(), json=token_response())
    state = _start_install(client)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 601)

    response = _callback(client, state, timestamp=int(real_time() + 601))

    assert response.status_code == 403
    assert b"state does not match" in response.content
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_callback_rejects_nonce_of_another_shop(client, platform_http) -> None:
    platform_http.add("POST", token_url("other.myshopify.com"), json=token_response())
    state = _start_install(client, SHOP)

    response = _callback(client, state, shop="other.myshopify.com")

    assert response.status_code == 403
    assert b"another shop" in response.content
    assert not Shop.objects.exists()
    assert _token_requests(platform_http, "other.myshopify.com") == []


@pytest.mark.django_db
@pytest.mark.parametrize("shop", ["evil.com/x.myshopify.com", "x.myshopify.com.evil.com"])
def test_callback_rejects_bad_shop(client, platform_http, shop: str) -> None:
    state = _start_install(client)

    response = _callback(client, state, shop=shop)

    assert response.status_code == 400
    assert b"not a myshopify.com domain" in response.content
    assert b"evil" not in response.content
    assert "evil" not in response["Content-Security-Policy"]
    assert not Shop.objects.exists()
    assert len(platform_http.calls) == 0


@pytest.mark.django_db
def test_token_endpoint_400_is_a_clear_error_and_nothing_is_stored(client, platform_http) -> None:
    platform_http.add("POST", token_url(), status=400, json={"error": "invalid_request"})
    state = _start_install(client)

    response = _callback(client, state)

    assert response.status_code == 400
    assert b"The platform rejected the grant: invalid_request" in response.content
    assert not Shop.objects.exists()
    assert len(_token_requests(platform_http)) == 1


@pytest.mark.django_db
def test_token_endpoint_down_is_a_502_and_nothing_is_stored(client, platform_http) -> None:
    platform_http.add("POST", token_url(), status=503, body="unavailable")
    state = _start_install(client)

    response = _callback(client, state)

    assert response.status_code == 502
    assert b"HTTP 503" in response.content
    assert not Shop.objects.exists()


@pytest.mark.django_db
def test_callback_with_fewer_scopes_than_needed_records_them_and_says_so(
    client, platform_http
) -> None:
    platform_http.add("POST", token_url(), json=token_response(scope="read_orders"))
    state = _start_install(client)

    response = _callback(client, state)

    assert response.status_code == 403
    assert (
        b"missing: read_customers, write_customers, write_discounts, read_products, "
        b"write_store_credit_account_transactions"
    ) in response.content
    assert Shop.objects.get(domain=SHOP).scopes == "read_orders"


def test_write_scope_implies_read_scope() -> None:
    assert (
        oauth.scopes_missing(
            [
                "write_orders",
                "write_customers",
                "write_discounts",
                "read_products",
                "write_store_credit_account_transactions",
            ]
        )
        == []
    )
    assert oauth.scopes_missing(["read_customers", "read_orders"]) == [
        "write_customers",
        "write_discounts",
        "read_products",
        "write_store_credit_account_transactions",
    ]


def test_scope_coverage_edges() -> None:
    required = ["read_orders", "write_orders", "unauthenticated_read_checkouts"]

    assert oauth.scopes_missing(["read_orders"], required) == [
        "write_orders",
        "unauthenticated_read_checkouts",
    ]
    assert oauth.scopes_missing(["write_orders", "unauthenticated_write_checkouts"], required) == []
    # A write scope of another resource, or the unauthenticated one, covers nothing else.
    assert oauth.scopes_missing(["write_customers", "unauthenticated_write_orders"], required) == [
        "read_orders",
        "write_orders",
        "unauthenticated_read_checkouts",
    ]


def test_a_granted_scope_the_library_cannot_parse_is_ignored_not_an_error() -> None:
    granted = [" write_orders ", "customer_read_orders", "", "weird scope"]

    assert oauth.scopes_missing(granted, ["read_orders", "customer_read_orders"]) == []
    assert oauth.scopes_missing(granted, ["read_orders", "read_customers"]) == ["read_customers"]


@pytest.mark.django_db
def test_admin_home_of_a_shop_with_an_unparseable_scope_still_lists_what_is_missing(client) -> None:
    installed_shop(scopes="write_orders,customer_read_orders")

    response = client.get(f"/?shop={SHOP}&id_token={session_token()}", headers=HTML)

    assert response.status_code == 403
    assert response.context["missing_scopes"] == MISSING_WITH_WRITE_ORDERS_ONLY


@pytest.mark.django_db
def test_reinstall_after_uninstall_reactivates(client, platform_http) -> None:
    old = installed_shop()
    shop_uninstall(shop=old)
    uninstalled = Shop.objects.get(pk=old.pk)
    assert uninstalled.uninstalled_at is not None and not uninstalled.is_active
    platform_http.add("POST", token_url(), json=token_response("shpat_B", "shprt_B"))
    state = _start_install(client)

    response = _callback(client, state)

    assert response.status_code == 302
    shop = Shop.objects.get(domain=SHOP)
    assert shop.pk == old.pk
    assert shop.uninstalled_at is None
    assert shop.installed_at > uninstalled.uninstalled_at
    assert shop.is_active
    assert shop.access_token == "shpat_B"
    assert shop.refresh_token == "shprt_B"


# --- managed install: App URL with id_token ----------------------------------------------------


def _app_url_query(token: str, shop: str = SHOP, **kwargs) -> str:
    return signed_query(
        {"shop": shop, "host": "YWRtaW4", "embedded": "1", "id_token": token}, **kwargs
    )


@pytest.mark.django_db
def test_managed_install_exchanges_the_session_token(
    client, platform_http, django_capture_on_commit_callbacks
) -> None:
    platform_http.add("POST", token_url(), json=token_response("shpat_X", "shprt_X"))
    token = session_token()

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.get(f"/?{_app_url_query(token)}", headers=HTML)

    assert response.status_code == 200
    assert "merchants/admin_home.html" in [t.name for t in response.templates]
    assert _token_requests(platform_http) == [
        {
            "client_id": "beam-test-api-key",
            "client_secret": "beam-test-api-secret",
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
            "expiring": "1",
        }
    ]
    shop = Shop.objects.get(domain=SHOP)
    assert shop.is_active
    assert shop.access_token == "shpat_X"
    assert shop.refresh_token == "shprt_X"
    assert shop.access_token_expires_at > timezone.now() + timedelta(seconds=3500)
    assert len(callbacks) == 1
    body = response.content.decode()
    assert SHOP in body
    assert "Installed" in body
    for scope in settings.SHOPIFY_SCOPES.split(","):
        assert f"<code>{scope}</code>" in body
    for section in ("Program", "Customers", "Analytics", "Webhook health"):
        assert section in body
    assert response["Content-Security-Policy"].startswith(
        f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    )


@pytest.mark.django_db
def test_installed_shop_is_not_exchanged_again(client, platform_http) -> None:
    installed_shop()

    response = client.get(f"/?{_app_url_query(session_token())}", headers=HTML)

    assert response.status_code == 200
    assert _token_requests(platform_http) == []
    assert Shop.objects.get(domain=SHOP).access_token == "shpat_old"


@pytest.mark.django_db
def test_managed_reinstall_of_uninstalled_shop(client, platform_http) -> None:
    shop_uninstall(shop=installed_shop())
    platform_http.add("POST", token_url(), json=token_response("shpat_R", "shprt_R"))

    response = client.get(f"/?{_app_url_query(session_token())}", headers=HTML)

    assert response.status_code == 200
    shop = Shop.objects.get(domain=SHOP)
    assert shop.uninstalled_at is None
    assert shop.access_token == "shpat_R"


@pytest.mark.django_db
def test_rejected_token_exchange_is_a_clear_error(client, platform_http) -> None:
    platform_http.add("POST", token_url(), status=400, json={"error": "invalid_subject_token"})

    response = client.get(f"/?{_app_url_query(session_token())}", headers=HTML)

    assert response.status_code == 400
    assert b"invalid_subject_token" in response.content
    assert not Shop.objects.exists()


@pytest.mark.django_db
def test_app_url_with_missing_scopes_shows_what_is_missing(client, platform_http) -> None:
    platform_http.add("POST", token_url(), json=token_response(scope="write_orders"))

    response = client.get(f"/?{_app_url_query(session_token())}", headers=HTML)

    assert response.status_code == 403
    assert response.templates[0].name == "merchants/scopes_missing.html"
    assert response.context["missing_scopes"] == MISSING_WITH_WRITE_ORDERS_ONLY
    assert Shop.objects.get(domain=SHOP).scopes == "write_orders"


@pytest.mark.django_db
def test_app_url_bad_hmac_is_400(client, platform_http) -> None:
    response = client.get(f"/?{_app_url_query(session_token(), secret='wrong')}", headers=HTML)

    assert response.status_code == 400
    assert b"HMAC signature does not match" in response.content
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_app_url_stale_timestamp_is_400(client, platform_http) -> None:
    query = _app_url_query(session_token(), timestamp=int(time.time()) - 3600)

    response = client.get(f"/?{query}", headers=HTML)

    assert response.status_code == 400
    assert b"too old" in response.content
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
@pytest.mark.parametrize("shop", ["evil.com/x.myshopify.com", "x.myshopify.com.evil.com"])
def test_app_url_bad_shop_is_400(client, platform_http, shop: str) -> None:
    response = client.get(f"/?{_app_url_query(session_token(), shop=shop)}", headers=HTML)

    assert response.status_code == 400
    assert response["Content-Security-Policy"] == "frame-ancestors 'none';"
    assert b"evil" not in response.content
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_app_url_token_for_another_shop_is_400(client, platform_http) -> None:
    token = session_token("other.myshopify.com")

    response = client.get(f"/?{_app_url_query(token)}", headers=HTML)

    assert response.status_code == 400
    assert b"another shop" in response.content
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_app_url_with_invalid_id_token_bounces(client, platform_http) -> None:
    expired = session_token(now=time.time() - 600)

    response = client.get(f"/?{_app_url_query(expired)}", headers=HTML)

    assert response.status_code == 200
    assert response.templates[0].name == "merchants/bounce.html"
    assert response.context["reload_url"] == f"/?shop={SHOP}&host=YWRtaW4&embedded=1"
    _assert_nothing_stored(platform_http)


@pytest.mark.django_db
def test_bounced_reload_without_hmac_is_authenticated_by_the_token(client) -> None:
    installed_shop()

    response = client.get(
        f"/?shop={SHOP}&host=YWRtaW4&embedded=1&id_token={session_token()}", headers=HTML
    )

    assert response.status_code == 200
    assert "merchants/admin_home.html" in [t.name for t in response.templates]


@pytest.mark.django_db
def test_signed_non_embedded_load_of_unknown_shop_starts_oauth(client) -> None:
    response = client.get(f"/?{signed_query({'shop': SHOP})}", headers=HTML)

    assert response.status_code == 302
    assert response["Location"] == f"/auth/install?shop={SHOP}"


@pytest.mark.django_db
def test_app_url_without_parameters_is_the_public_home(client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.templates[0].name == "merchants/home.html"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none';"


@pytest.mark.django_db
def test_a_replayed_callback_is_refused_even_after_the_cache_was_emptied(
    client, platform_http
) -> None:
    """The once-only claim of the state is a database row: a cache restarted empty (or down)
    between the two callbacks does not let the code be sent again."""
    from django.core.cache import cache

    platform_http.add("POST", token_url(), json=token_response())
    state = _start_install(client)
    cookie = client.cookies[OAUTH_STATE_COOKIE].value
    assert _callback(client, state).status_code == 302
    cache.clear()
    client.cookies[OAUTH_STATE_COOKIE] = cookie

    replay = _callback(client, state)

    assert replay.status_code == 403
    assert b"already used" in replay.content
    assert len(_token_requests(platform_http)) == 1


@pytest.mark.django_db
def test_state_claims_are_once_only_and_pruned_after_their_lifetime() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from merchants.models import OAuthStateUse
    from merchants.shopify.oauth import oauth_state_claim

    assert oauth_state_claim(nonce="n-1", max_age=600) is True
    assert oauth_state_claim(nonce="n-1", max_age=600) is False
    OAuthStateUse.objects.filter(nonce="n-1").update(
        used_at=timezone.now() - timedelta(seconds=601)
    )
    assert oauth_state_claim(nonce="n-2", max_age=600) is True
    assert list(OAuthStateUse.objects.values_list("nonce", flat=True)) == ["n-2"]
