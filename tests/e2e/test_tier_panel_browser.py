"""VIP tiers in the rewards panel, in Chromium against a live Beam and the devstore: a member
with tiers on (amount spent) sees their tier, its benefits and a progress bar saying what the
next tier needs; an order placed in the devstore checkout reaches Beam as a signed webhook and
moves them up, which a reload shows; a guest sees the tier table with a call to join. axe
checks the panel with tiers for serious or critical violations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import shopper
from tests.e2e.axe import serious_violations
from tests.e2e.shopper import dialog, open_panel

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DOMAIN = "tier-store.myshopify.com"
ADA = "Ada Lovelace <ada@example.com>"
# Layout shifts inside the panel's shadow root after it opened (the launcher test measures the
# page; here the tier section must not push what is drawn around it once it is drawn).
CLS_OBSERVER = """window.__cls = 0;
new PerformanceObserver(l => l.getEntries().forEach(e => {
  if (!e.hadRecentInput) __cls += e.value;
})).observe({type: 'layout-shift', buffered: true});"""


@pytest.fixture
def store(transactional_db: None) -> Iterator[dict[str, Any]]:
    """A devstore shop with Beam installed, tiers by amount spent (Silver from €50, Gold from
    €150 with a perk and 1.5 times the points) and Ada, a member who spent €110: Silver, €40 from
    Gold. Webhooks reach Beam for real (after commit)."""
    from devstore import services as dev
    from loyalty.models import LoyaltyProgram, Member, Tier, TierSettings
    from tests.devstore_install import beam_install

    dev_shop = dev.shop_create(DOMAIN, name="Tier Store", currency="EUR")
    shop = beam_install(dev_shop, name="Tier Store")
    LoyaltyProgram.objects.create(shop=shop, welcome_points=0)
    settings = TierSettings.objects.create(
        shop=shop, enabled=True, metric="spend", window="lifetime"
    )
    for rank, (name, threshold, multiplier, perks) in enumerate(
        (("Silver", "50", "1", []), ("Gold", "150", "1.5", ["Free express shipping"]))
    ):
        Tier.objects.create(
            shop=shop,
            settings=settings,
            name=name,
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(multiplier),
            perks=perks,
        )
    ada = dev.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    vase = dev.product_create(dev_shop, "Vase", Decimal("110.00")).variants.get()
    lamp = dev.product_create(dev_shop, "Desk Lamp", Decimal("49.00")).variants.get()
    dev.order_place(dev_shop, customer=ada, lines=[(vase, 1)])
    member = Member.objects.get(shop=shop, customer_id=ada.id)
    assert member.tier is not None and member.tier.name == "Silver"
    yield {"dev_shop": dev_shop, "shop": shop, "ada": ada, "lamp": lamp, "member": member}


def base(live_server: Any) -> str:
    return f"{live_server.url}/devstore/{DOMAIN}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"shopper-tiers-{name}.png"), animations="disabled")


def test_member_sees_tier_progress_and_moves_up_after_an_order(
    page: Page, live_server: Any, store: dict[str, Any]
) -> None:
    from loyalty.models import Member, TierChange

    page.set_viewport_size({"width": 1280, "height": 900})
    page.add_init_script(CLS_OBSERVER)
    shopper.log_in(page, base(live_server) + "/", ADA)

    open_panel(page)

    vip = dialog(page).locator("section", has=page.get_by_role("heading", name="VIP status"))
    expect(vip.locator(".tier")).to_have_text("Silver")
    bar = vip.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "110")
    expect(bar).to_have_attribute("aria-valuemin", "0")
    expect(bar).to_have_attribute("aria-valuemax", "150")
    expect(bar).to_have_attribute("aria-valuetext", "Spend €40.00 more to reach Gold")
    expect(bar.locator("i")).to_have_attribute("style", "width: 73%;")
    expect(vip.get_by_text("Spend €40.00 more to reach Gold", exact=True)).to_be_visible()
    assert page.evaluate("window.__cls") == 0
    shot(page, "member")
    assert serious_violations(page) == []

    # an order through the devstore checkout: its orders/paid webhook credits it in Beam
    page.goto(f"{base(live_server)}/products/{store['lamp'].id}")
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Thank you, Ada!")).to_be_visible()
    expect(page.locator("[data-role=tier]")).to_have_text("This order brings you to Gold.")
    member = Member.objects.get(pk=store["member"].pk)
    assert member.tier is not None and member.tier.name == "Gold"
    assert TierChange.objects.filter(member=member, reason="earned", to_name="Gold").count() == 1

    page.goto(base(live_server) + "/")
    open_panel(page)

    vip = dialog(page).locator("section", has=page.get_by_role("heading", name="VIP status"))
    expect(vip.locator(".tier")).to_have_text("Gold")
    expect(vip.get_by_text("1.5\u00d7 points on orders")).to_be_visible()
    expect(vip.get_by_text("Free express shipping")).to_be_visible()
    expect(vip.get_by_text("You reached the top tier!")).to_be_visible()
    expect(vip.get_by_text(re.compile(r"^Gold until "))).to_be_visible()
    expect(vip.get_by_role("progressbar")).to_have_count(0)
    shot(page, "gold")
    assert serious_violations(page) == []


def test_guest_sees_the_tier_table_with_a_call_to_join(
    page: Page, live_server: Any, store: dict[str, Any]
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base(live_server) + "/")

    open_panel(page)

    d = dialog(page)
    table = d.locator("section", has=page.get_by_role("heading", name="VIP tiers"))
    rows = table.locator("ol.tiers > li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Silver")
    expect(rows.nth(0)).to_contain_text("From €50.00")
    expect(rows.nth(1)).to_contain_text("From €150.00")
    expect(rows.nth(1)).to_contain_text("1.5\u00d7 points on orders")
    expect(rows.nth(1)).to_contain_text("Free express shipping")
    join = table.get_by_role("link", name="Join to start climbing the tiers.")
    expect(join).to_have_attribute("href", f"/devstore/{DOMAIN}/account")
    expect(d.get_by_role("progressbar")).to_have_count(0)
    table.scroll_into_view_if_needed()
    shot(page, "guest")
    assert serious_violations(page) == []


def test_the_branding_preview_runs_the_panel_with_the_shops_tiers(
    page: Page, live_server: Any, store: dict[str, Any]
) -> None:
    """The admin's branding preview runs the real launcher: its sample member sits in the
    shop's first tier, halfway to the next."""
    from tests.loyalty.admin_helpers import AdminClient

    client = AdminClient(store["shop"], user_id="5")
    html = client.post("/admin/branding/preview", {"program_name": "Club"}).content.decode()
    frame_url = html.split('src="')[1].split('"')[0]

    page.goto(live_server.url + frame_url)
    open_panel(page)

    vip = dialog(page).locator("section", has=page.get_by_role("heading", name="VIP status"))
    expect(vip.locator(".tier")).to_have_text("Silver")
    expect(vip.get_by_text("Spend €50.00 more to reach Gold", exact=True)).to_be_visible()
    shot(page, "preview")
