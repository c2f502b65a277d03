"""The customer account page's histories in Chromium against the live server and the
devstore (the customer-account extension's stand-in): the newest 50 points entries and 20
tier changes, then "Show more" pages back through /ext/ until the first, and the button
goes. Screenshot: ``tests/artifacts/account-history.png``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed"),
]

try:
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover
    pytest.skip("playwright is not installed", allow_module_level=True)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOP = "acme-history.myshopify.com"
ADA = "Ada Lovelace <ada@example.com>"


@pytest.fixture
def store(live_server, settings, platform_http, transactional_db) -> dict[str, Any]:
    """A devstore shop with Beam and Ada, a member with 56 points entries (1 to 56 points)
    and 23 tier changes."""
    from django.utils import timezone

    from devstore import services as dev
    from loyalty.models import LoyaltyProgram, Member, TierChange
    from loyalty.services import points_adjust
    from tests.devstore_install import beam_install

    settings.SHOPIFY_APP_URL = live_server.url
    settings.SHOPIFY_STORE_ORIGIN = live_server.url + "/devstore/{shop}"
    platform_http.add_passthru(live_server.url)
    dev_shop = dev.shop_create(SHOP, name="Acme History", currency="USD")
    shop = beam_install(dev_shop, name="Acme History")
    LoyaltyProgram.objects.create(shop=shop, welcome_points=0)
    ada = dev.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    member, _ = Member.objects.get_or_create(shop=shop, customer_id=ada.id)
    for i in range(56):
        points_adjust(
            shop=shop, member=member, amount=i + 1, reason="r", actor="t", idempotency_key=f"k{i}"
        )
    start = timezone.now() - timedelta(days=30)
    TierChange.objects.bulk_create(
        TierChange(
            shop=shop,
            member=member,
            to_name=f"Tier {i}",
            reason="manual",
            key=f"c{i}",
            at=start + timedelta(days=i),
        )
        for i in range(23)
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"url": live_server.url}


def test_show_more_pages_back_through_both_histories(store: dict[str, Any], page: Page) -> None:
    page.goto(f"{store['url']}/devstore/{SHOP}/account")
    page.get_by_label("Shopping as").select_option(label=ADA)
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_text("Logged in as")).to_be_visible()
    block = page.locator("#beam-account-extension")

    entries = block.locator("#beam-account-entries li")
    expect(entries).to_have_count(50)
    expect(entries.first).to_have_text("Adjustment: +56")
    tiers = block.locator("#beam-account-tiers li")
    expect(tiers).to_have_count(20)

    block.locator("#beam-account-entries-more").click()
    expect(entries).to_have_count(56)
    expect(entries.last).to_have_text("Adjustment: +1")
    expect(block.locator("#beam-account-entries-more")).to_have_count(0)

    more = block.locator("#beam-account-tiers-more")
    expect(more).to_have_text("Show more")
    more.click()
    expect(tiers).to_have_count(23)
    expect(more).to_have_count(0)
    expect(block.locator(".beam-history-error")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "account-history.png"), full_page=True)
