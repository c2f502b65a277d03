"""A tier granted from the admin, end to end in Chromium against the live server: the merchant
opens a customer from the Customers menu of the devstore's store admin (Beam in its frame),
grants Gold for 30 days, sees "Gold until <date>" and the history row, reloads, goes back to
the list (which shows the tier); then the customer, logged in on the devstore's storefront,
opens the rewards panel and sees Gold with its end date. Screenshots go to
``tests/artifacts/`` (admin-tier-*.png, shopper-tier-granted.png)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.admin_nav import arm_settle, beam, beam_frame, go
from tests.e2e.axe import serious_violations
from tests.e2e.shopper import log_in, open_panel

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOP = "acme-tiers.myshopify.com"
ZONE = "America/New_York"
ADA = "Ada Lovelace <ada@example.com>"


@pytest.fixture
def store(live_beam_http: str, transactional_db) -> dict[str, Any]:
    """A devstore shop (New York time) with Beam installed, a program, tiers on (Silver at
    100 points, Gold at 500) and Ada, a customer of the store and so a member."""
    from devstore import services as dev
    from loyalty.models import LoyaltyProgram, Member
    from tests.devstore_install import beam_install
    from tests.loyalty.tier_helpers import tiers_setup

    dev_shop = dev.shop_create(SHOP, name="Acme Tiers", currency="USD", iana_timezone=ZONE)
    shop = beam_install(dev_shop, name="Acme Tiers")
    shop.iana_timezone = ZONE
    shop.save(update_fields=["iana_timezone"])
    LoyaltyProgram.objects.create(shop=shop, welcome_points=0)
    tiers = tiers_setup(shop)
    ada = dev.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    # the devstore's customers/create webhook already made Ada a member
    member, _ = Member.objects.get_or_create(shop=shop, customer_id=ada.id)
    Member.objects.filter(pk=member.pk).update(first_name="Ada", last_name="Lovelace")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"shop": shop, "member": member, "tiers": tiers, "url": live_beam_http}


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, animations="disabled")


def test_a_granted_tier_reaches_the_admin_and_the_shopper(
    store, page: Page, browser: Browser
) -> None:
    from loyalty.models import Member, TierChange

    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    expect(app.get_by_role("heading", name="Beam for Acme Tiers")).to_be_visible()

    # The merchant opens Ada from the Customers menu: no tier yet, an empty history.
    go(page, "Customers")
    app.locator("#beam-members").get_by_role("link", name="Ada Lovelace").click()
    expect(app.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.locator("#ds-title-bar-title")).to_have_text("Ada Lovelace")  # as the heading
    expect(app.locator("#beam-tier-now")).to_have_text("No tier")
    expect(app.locator("#beam-tier-history")).to_contain_text("No tier changes yet")

    # A grant past a year is refused on its field; nothing is granted.
    grant = app.locator("#beam-tier-grant")
    grant.get_by_label("Tier").select_option(label="Gold")
    grant.get_by_label("Days").fill("400")
    grant.get_by_role("button", name="Grant tier").click()
    expect(app.locator("#beam-tier-grant [data-field=days] .Polaris-InlineError")).to_have_text(
        "A grant lasts 1 to 365 days."
    )
    assert not TierChange.objects.exists()

    # Gold for 30 days.
    grant = app.locator("#beam-tier-grant")
    grant.get_by_label("Tier").select_option(label="Gold")
    grant.get_by_label("Days").fill("30")
    grant.get_by_label("Note (optional)").fill("Spring VIP preview")
    grant.get_by_role("button", name="Grant tier").click()
    expect(app.locator("#beam-tier-now")).to_contain_text("Granted")
    ends = Member.objects.get(pk=store["member"].pk).grant_ends_at
    assert ends is not None
    last_day = (ends - timedelta(microseconds=1)).astimezone(ZoneInfo(ZONE))
    until = f"Gold until {last_day.day} {last_day:%b %Y}"
    expect(app.locator("#beam-tier-now")).to_contain_text(until)
    history = app.locator("#beam-tier-history-table tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("No tier → Gold")
    expect(history.first).to_contain_text("Granted")
    expect(history.first).to_contain_text("Spring VIP preview")
    app.locator("#beam-tier").scroll_into_view_if_needed()
    shot(page, "admin-tier-granted")
    assert serious_violations(beam_frame(page)) == []

    # A reload of Beam's page shows the same; back goes to the list, whose Tier column says Gold.
    frame = beam_frame(page)
    path = re.sub(r"\?.*", "", frame.url)
    assert path.endswith(f"/admin/customers/{store['member'].pk}/")
    with frame.expect_navigation():
        frame.evaluate("() => location.reload()")
    expect(app.locator("#beam-tier-now")).to_contain_text(until)
    expect(app.locator("#beam-tier-history-table tbody tr")).to_have_count(1)
    arm_settle(beam_frame(page))
    beam_frame(page).evaluate("() => history.back()")
    expect(app.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    ada_row = app.locator("#beam-members tbody tr").filter(has_text="Ada Lovelace")
    expect(ada_row).to_contain_text("Gold")
    shot(page, "admin-tier-list")
    assert serious_violations(beam_frame(page)) == []

    # The shopper, logged in on the storefront, sees Gold and its last day: the day in the
    # store's zone, whatever zone the shopper's browser is in (here 14 hours ahead of UTC).
    context = browser.new_context(
        timezone_id="Pacific/Kiritimati", viewport={"width": 1280, "height": 900}
    )
    shopper = context.new_page()
    log_in(shopper, f"{store['url']}/devstore/{SHOP}/", ADA)
    panel = open_panel(shopper)
    panel_day = last_day
    expect(panel).to_contain_text(
        re.compile(
            rf"Gold until ({panel_day:%b} {panel_day.day}, {panel_day.year}"
            rf"|{panel_day.day} {panel_day:%b} {panel_day.year})"
        )
    )
    shopper.screenshot(
        path=str(ARTIFACTS / "shopper-tier-granted.png"), full_page=True, animations="disabled"
    )
    context.close()

    # The merchant grants Silver to a list: the preview counts and lists what it skips.
    app.locator("main").get_by_role("link", name="Grant a tier").click()
    expect(app.get_by_role("heading", name="Grant a tier")).to_be_visible()
    app.locator("#id_file").set_input_files(
        files=[
            {
                "name": "vip.csv",
                "mimeType": "text/csv",
                "buffer": b"email\nada@example.com\nnobody@example.com\n",
            }
        ]
    )
    app.locator("#id_tier").select_option(label="Silver")
    app.locator("#id_days").fill("10")
    app.get_by_role("button", name="Preview").click()
    expect(app.locator("#beam-grant-counts")).to_contain_text("1 of 2 lines match a customer")
    expect(app.locator("#beam-grant-unknown")).to_contain_text("no member has this email")
    shot(page, "admin-tier-grant-list-preview")
    assert serious_violations(beam_frame(page)) == []
    app.get_by_role("button", name="Grant Silver to 1 customer").click()
    expect(app.locator("#beam-grant-report")).to_contain_text(
        "Silver for 10 days: granted to 1 customer, 1 line not matched."
    )
    shot(page, "admin-tier-grant-list-done")
    assert TierChange.objects.filter(reason="granted").count() == 2


def test_the_tier_history_pages_older_and_newer_in_place(store, page: Page) -> None:
    from django.utils import timezone

    from loyalty.models import TierChange

    member, gold = store["member"], store["tiers"]["Gold"]
    now = timezone.now()
    TierChange.objects.bulk_create(
        TierChange(
            shop=store["shop"],
            member=member,
            to_tier=gold,
            to_name="Gold",
            reason=TierChange.Reason.MANUAL,
            key=f"e2e:{i}",
            note=f"change {i}",
            at=now - timedelta(hours=51 - i),
        )
        for i in range(1, 52)
    )
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    go(page, "Customers")
    app.locator("#beam-members").get_by_role("link", name="Ada Lovelace").click()
    rows = app.locator("#beam-tier-history-table tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("change 51")

    card = app.locator("#beam-tier-history")
    card.get_by_role("link", name="Older").click()

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("change 1")
    expect(card).to_contain_text("Page 2 of 2")
    expect(app.locator("#beam-tier-now")).to_have_text("No tier")  # the rest stays in place
    card.get_by_role("link", name="Newer").click()
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("change 51")
