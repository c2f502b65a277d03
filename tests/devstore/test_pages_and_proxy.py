from __future__ import annotations

import hashlib
import hmac
import re
import time
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qsl, quote, urlsplit

import jwt
import pytest

from devstore.models import DevOrder
from tests.devstore.factories import DevCustomerFactory, DevProductFactory

SECRET = "beam-test-api-secret"


def _proxy_signature(pairs: list[tuple[str, str]]) -> str:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    message = "".join(sorted(f"{k}={','.join(v)}" for k, v in grouped.items()))
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def proxied(platform_http):
    seen: list = []

    def answer(request):
        seen.append(request)
        return 201, {"Content-Type": "application/json"}, '{"ok": true}'

    platform_http.add_callback("GET", re.compile(r"http://beam\.test/proxy/.*"), answer)
    platform_http.add_callback("POST", re.compile(r"http://beam\.test/proxy/.*"), answer)
    return seen


def test_app_proxy_forwards_signed_query_for_a_logged_in_customer(client, dev_shop, proxied):
    customer = DevCustomerFactory(shop=dev_shop)
    client.post(f"/devstore/{dev_shop.domain}/login", {"customer_id": str(customer.id)})
    response = client.get(
        f"/devstore/{dev_shop.domain}/apps/beam/api/member?extra=1&extra=2&logged_in_customer_id=666"
    )
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json" and response.json() == {"ok": True}
    request = proxied[0]
    parts = urlsplit(request.url)
    assert parts.path == "/proxy/api/member"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(pairs)
    assert params["logged_in_customer_id"] == str(customer.id)
    assert [v for k, v in pairs if k == "extra"] == ["1", "2"]
    assert params["shop"] == dev_shop.domain and params["path_prefix"] == "/apps/beam"
    assert abs(int(params["timestamp"]) - time.time()) < 5
    assert params["signature"] == _proxy_signature(pairs)
    assert "Cookie" not in request.headers


def test_app_proxy_post_passes_the_body_and_guest_has_empty_customer(client, dev_shop, proxied):
    response = client.post(
        f"/devstore/{dev_shop.domain}/apps/beam/api/redeem",
        data='{"reward": 1}',
        content_type="application/json",
    )
    assert response.status_code == 201
    request = proxied[0]
    assert request.body in (b'{"reward": 1}', '{"reward": 1}')
    assert request.headers["Content-Type"] == "application/json"
    pairs = parse_qsl(urlsplit(request.url).query, keep_blank_values=True)
    assert dict(pairs)["logged_in_customer_id"] == ""
    assert dict(pairs)["signature"] == _proxy_signature(pairs)


def test_admin_frame_embeds_beam_with_signed_query_and_fresh_session_token(client, dev_shop):
    page = client.get(f"/devstore/{dev_shop.domain}/admin/apps/beam")
    assert page.status_code == 200
    src = unescape(re.search(r'<iframe[^>]+src="([^"]+)"', page.content.decode()).group(1))
    assert src.startswith("http://beam.test/?")
    params = dict(parse_qsl(urlsplit(src).query))
    assert params["embedded"] == "1" and params["shop"] == dev_shop.domain
    message = "&".join(f"{k}={quote(v, safe='')}" for k, v in sorted(params.items()) if k != "hmac")
    assert params["hmac"] == hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    claims = jwt.decode(
        params["id_token"], SECRET, algorithms=["HS256"], audience="beam-test-api-key"
    )
    assert claims["dest"] == f"https://{dev_shop.domain}"
    assert claims["iss"] == f"https://{dev_shop.domain}/admin"
    assert claims["exp"] - claims["iat"] == 60
    assert {"sub", "nbf", "jti", "sid"} <= set(claims)

    token = client.get(f"/devstore/{dev_shop.domain}/admin/session-token").json()["token"]
    assert jwt.decode(token, SECRET, algorithms=["HS256"], audience="beam-test-api-key")[
        "dest"
    ] == (f"https://{dev_shop.domain}")


def test_person_can_shop_with_a_discount_code_that_gets_refused(client, dev_shop):
    variant = DevProductFactory(shop=dev_shop, title="Mug", price=Decimal("18.00")).variants.get()
    assert client.get("/devstore/").status_code == 200
    home = client.get(f"/devstore/{dev_shop.domain}/")
    assert home.status_code == 200 and b"Mug" in home.content
    client.post(f"/devstore/{dev_shop.domain}/cart/add", {"variant_id": str(variant.id)})
    refused = client.post(
        f"/devstore/{dev_shop.domain}/cart",
        {"customer_id": "guest", "email": "g@example.com", "discount_code": "BOGUS"},
        follow=True,
    )
    assert b"Enter a valid discount code" in refused.content
    assert not DevOrder.objects.exists()
    placed = client.post(
        f"/devstore/{dev_shop.domain}/cart",
        {"customer_id": "guest", "email": "g@example.com", "shipping": "0"},
        follow=True,
    )
    assert placed.status_code == 200
    order = DevOrder.objects.get()
    assert order.payload["total_price"] == "18.00" and order.customer is None
    for path in ("orders", "customers", "discounts", "webhooks"):
        assert client.get(f"/devstore/{dev_shop.domain}/{path}").status_code == 200
    client.post(f"/devstore/{dev_shop.domain}/orders/{order.id}/cancel")
    order.refresh_from_db()
    assert order.cancelled_at is not None


def test_storefront_includes_the_launcher_when_the_theme_has_one(
    client, dev_shop, settings, tmp_path
):
    real = settings.BASE_DIR / "extensions" / "beam-theme" / "blocks" / "launcher-embed.liquid"
    settings.BASE_DIR = tmp_path
    assert b"beam-launcher.js" not in client.get(f"/devstore/{dev_shop.domain}/").content
    ext = tmp_path / "extensions" / "beam-theme"
    (ext / "assets").mkdir(parents=True)
    (ext / "blocks").mkdir()
    (ext / "blocks" / "launcher-embed.liquid").write_text(real.read_text())
    (ext / "assets" / "beam-launcher.js").write_text("window.beamLoaded = true;")
    page = client.get(f"/devstore/{dev_shop.domain}/").content.decode()
    assert '<script src="/devstore/theme-assets/beam-launcher.js" defer></script>' in page
    asset = client.get("/devstore/theme-assets/beam-launcher.js")
    assert b"".join(asset.streaming_content) == b"window.beamLoaded = true;"
    assert client.get("/devstore/theme-assets/../../settings.py").status_code == 404
