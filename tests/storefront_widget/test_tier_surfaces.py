"""The tier table on the landing page (thresholds in the metric's unit, multiplier, perks,
entry points, in the shopper texts) and the sample member's tier in the admin's branding
preview (which runs the real panel)."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest

from loyalty.tier_documents import tier_sample_block
from tests.loyalty.admin_helpers import AdminClient, admin_shop
from tests.loyalty.tier_helpers import tiers_setup
from tests.storefront_widget.conftest import ProxyClient

pytestmark = pytest.mark.django_db


def _landing(proxy: ProxyClient, **q: str) -> str:
    return unescape(proxy.get("", customer=None, **q).content.decode())


def test_the_landing_tier_table_states_benefits(proxy: ProxyClient, program: Any, shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop, (("Silver", "100", "1", 0), ("Gold", "1500", "1.5", 250)))
    tiers["Gold"].perks = ["Free shipping", "Early access"]
    tiers["Gold"].save()

    html = _landing(proxy)

    assert '<h3>Silver</h3><p class="bl-pts">From 100 points</p>\n        </li>' in html
    assert (
        '<h3>Gold</h3><p class="bl-pts">From 1,500 points</p>\n'
        '          <ul class="bl-perks"><li>1.5\u00d7 points on orders</li><li>Free shipping</li>'
        "<li>Early access</li><li>250 bonus points when you reach it</li></ul>"
    ) in html


def test_order_thresholds_are_orders_and_the_words_are_shopper_texts(
    proxy: ProxyClient,
    program: Any,
    shop,  # type: ignore[no-untyped-def]
) -> None:
    tiers_setup(shop, (("Silver", "1", "1.25", 0), ("Gold", "5", "2", 0)), metric="orders")
    program.texts = {
        "fr": {
            "tier_from": "Dès {n}",
            "orders": "{n} commandes",
            "order": "{n} commande",
            "tier_x": "{x}\u00d7 points par commande",
        }
    }
    program.branding = {**program.branding, "languages": ["en", "fr"]}
    program.save()

    english = _landing(proxy)
    french = _landing(proxy, locale="fr")

    assert "From 1 order</p>" in english and "From 5 orders</p>" in english
    assert "<li>1.25\u00d7 points on orders</li>" in english
    assert "Dès 1 commande</p>" in french and "Dès 5 commandes</p>" in french
    assert "<li>1,25\u00d7 points par commande</li>" in french and "<li>2\u00d7 points" in french


def test_no_tiers_no_tier_table(proxy: ProxyClient, program: Any) -> None:
    assert "bl-tiers" not in _landing(proxy)


# --- the branding preview's sample member -------------------------------------------------------


def test_the_sample_member_is_halfway_to_the_second_tier() -> None:
    spend = [
        {"name": "Silver", "metric": "spend", "threshold": "100.00", "multiplier": "1.25"},
        {"name": "Gold", "metric": "spend", "threshold": "250.50", "multiplier": "1.5"},
    ]
    assert tier_sample_block(spend) == {
        "name": "Silver",
        "multiplier": "1.25",
        "granted": False,
        "until": None,
        "metric": "spend",
        "value": "175.25",
        "next": {"name": "Gold", "threshold": "250.50", "remaining": "75.25"},
    }
    orders = [
        {"name": "A", "metric": "orders", "threshold": 1, "multiplier": "1"},
        {"name": "B", "metric": "orders", "threshold": 4, "multiplier": "2"},
    ]
    block = tier_sample_block(orders)
    assert block is not None
    assert (block["value"], block["next"]["remaining"]) == (2, 2)
    assert tier_sample_block(orders[:1])["next"] is None  # type: ignore[index]
    assert tier_sample_block([]) is None


def test_the_branding_preview_shows_the_sample_members_tier() -> None:
    admin = admin_shop("tiers-preview.myshopify.com")
    client = AdminClient(admin, user_id="7")
    html = client.post("/admin/branding/preview", {"program_name": "Club"}).content.decode()
    frame_url = html.split('src="')[1].split('"')[0]
    assert client.client.get(f"{frame_url}api/me").json()["member"]["tier"] is None

    tiers_setup(admin)
    me = client.client.get(f"{frame_url}api/me").json()["member"]

    assert (me["tier"]["name"], me["tier"]["value"], me["tier"]["next"]["name"]) == (
        "Silver",
        300,
        "Gold",
    )
    frame = client.client.get(frame_url).content.decode()
    assert "/admin/theme-assets/beam-panel-tiers.js" in frame
    assert client.client.get("/admin/theme-assets/beam-panel-tiers.js").status_code == 200
