"""The devstore renders the theme app extension's blocks as a real storefront would."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest

from devstore import services as store
from tests.storefront_widget.conftest import DOMAIN

pytestmark = pytest.mark.django_db

BASE = f"/devstore/{DOMAIN}"


def _holder(html: str) -> dict[str, str]:
    match = re.search(r'<div id="beam-root"(.*?)></div>', html, re.S)
    assert match is not None
    return {k: unescape(v) for k, v in re.findall(r'(data-[\w-]+)="([^"]*)"', match.group(1))}


def test_storefront_renders_the_launcher_embed_like_the_liquid_block(client, dev_shop, customer):
    client.post(f"{BASE}/login", {"customer_id": str(customer.id)})

    html = client.get(f"{BASE}/?locale=fr").content.decode()

    assets = "/devstore/theme-assets/"
    assert _holder(html) == {
        "data-proxy": f"{BASE}/apps/beam",
        "data-root": f"{BASE}/",
        "data-customer": str(customer.id),
        "data-locale": "fr",
        "data-panel-js": (
            f"{assets}beam-panel-tiers.js {assets}beam-panel-earn.js "
            f"{assets}beam-panel-referrals.js {assets}beam-panel-views.js {assets}beam-panel.js"
        ),
        "data-panel-css": f"{assets}beam-panel.css",
        "data-i18n-js": f"{assets}beam-i18n-fr.js",
        "data-sign-up": f"{BASE}/account",
        "data-log-in": f"{BASE}/account",
        "data-color": "#4f46e5",
        "data-text-color": "#ffffff",
        "data-position": "bottom-right",
        "data-shape": "pill",
        "data-icon": "gift",
        "data-label": "Rewards",
        "data-mobile": "true",
    }
    assert f'<script src="{assets}beam-launcher.js" defer></script>' in html
    for name in (
        "beam-launcher.js",
        "beam-panel.js",
        "beam-panel-views.js",
        "beam-panel-tiers.js",
        "beam-panel-earn.js",
        "beam-panel-referrals.js",
        "beam-panel.css",
    ):
        assert client.get(assets + name).status_code == 200


def test_guest_holder_has_no_customer_and_the_launcher_can_be_left_out(client, dev_shop):
    html = client.get(f"{BASE}/").content.decode()

    assert _holder(html)["data-customer"] == ""
    assert _holder(html)["data-i18n-js"] == ""
    assert "beam-root" not in client.get(f"{BASE}/?launcher=0").content.decode()


def _block(html: str, marker: str) -> dict[str, str]:
    match = re.search(rf"<p([^>]*{marker}[^>]*)>", html)
    assert match is not None
    return {k: unescape(v) for k, v in re.findall(r'(data-[\w-]+)="([^"]*)"', match.group(1))}


def test_product_page_renders_the_points_block_for_beam_to_fill(client, dev_shop):
    product = store.product_create(dev_shop, "Lamp", Decimal("49.99"))
    variant = product.variants.get()

    html = client.get(f"{BASE}/products/{variant.id}").content.decode()

    assert '<p class="beam-product-points" style="color: #4f46e5;" data-beam-product-points' in html
    assert _block(html, "data-beam-product-points") == {
        "data-proxy": f"{BASE}/apps/beam",
        "data-product": str(product.id),
        "data-price": "4999",  # the theme's variant.price, in hundredths
        "data-locale": "en",
        "data-text": "Earn {n} points with this purchase",
    }
    assert "Earn 49 points" not in html  # no figure of its own: Beam's comes in
    assert '<script src="/devstore/theme-assets/beam-blocks.js" defer></script>' in html
    assert client.get("/devstore/theme-assets/beam-blocks.js").status_code == 200
    assert 'id="beam-root"' in html


def test_product_page_asks_for_a_logged_in_customers_own_figure(client, dev_shop, customer):
    variant = store.product_create(dev_shop, "Lamp", Decimal("49.99")).variants.get()
    guest = client.get(f"{BASE}/products/{variant.id}").content.decode()
    client.post(f"{BASE}/login", {"customer_id": str(customer.id)})

    logged_in = client.get(f"{BASE}/products/{variant.id}").content.decode()

    assert ' data-locale="en" data-member data-text=' in logged_in
    assert "data-member" not in guest


def test_account_page_renders_the_balance_block_for_beam_to_fill(client, dev_shop, customer):
    assert "beam-account-points" not in client.get(f"{BASE}/account").content.decode()
    client.post(f"{BASE}/login", {"customer_id": str(customer.id)})

    html = client.get(f"{BASE}/account").content.decode()

    assert '<div class="beam-account-points">' in html
    assert "You have 0 points" not in html  # never a made-up zero
    assert _block(html, "data-beam-account-points") == {
        "data-proxy": f"{BASE}/apps/beam",
        "data-locale": "en",
        "data-text": "You have {n} points",
    }
    assert '<a href="#beam-rewards" style="color: #4f46e5;">View your rewards</a>' in html


def test_discount_link_prefills_the_checkout_and_stays_in_the_store(client, dev_shop):
    response = client.get(f"{BASE}/discount/BEAM-AAAA-BBBB?redirect={BASE}/cart")
    outside = client.get(f"{BASE}/discount/X?redirect=https://evil.example/")

    assert response.status_code == 302 and response["Location"] == f"{BASE}/cart"
    assert outside["Location"] == f"{BASE}/cart"
    variant = store.product_create(dev_shop, "Mug", Decimal("18.00")).variants.get()
    client.post(f"{BASE}/cart/add", {"variant_id": str(variant.id)})
    cart = client.get(f"{BASE}/cart").content.decode()
    assert 'name="discount_code" autocomplete="off" value="X"' in cart


def test_devstore_proxy_reaches_the_real_api_with_the_logged_in_customer(
    client, shop, program, rewards, member, customer, give_points
):
    give_points(member, 640)
    client.post(f"{BASE}/login", {"customer_id": str(customer.id)})

    me = client.get(f"{BASE}/apps/beam/api/me")
    program_response = client.get(f"{BASE}/apps/beam/api/program")
    again = client.get(
        f"{BASE}/apps/beam/api/program", headers={"If-None-Match": program_response["ETag"]}
    )
    landing = client.get(f"{BASE}/apps/beam/")

    assert me.status_code == 200 and me.json()["member"]["balance"] == 640
    assert program_response.status_code == 200 and program_response["ETag"]
    assert program_response["Cache-Control"].startswith("public")
    assert again.status_code == 304
    assert landing.status_code == 200 and b"<h1>Welcome to Bean Club</h1>" in landing.content
    css = client.get(f"{BASE}/apps/beam/landing.css?v=1")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
