"""The VIP tiers page in a real Chromium, in the devstore's store admin: the merchant opens
VIP tiers from the admin's menu, starts from the empty state's Bronze / Silver / Gold, fixes
a field error, reviews what the change does to the members already there (a background
preview: its counts appear, then Apply is enabled), applies it, sees the recompute's progress
and final counts, reloads and steps back; then a member sees their tier in the storefront's
panel. Screenshot: ``tests/artifacts/admin-tiers.png``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e import shopper
from tests.e2e.admin_nav import arm_settle, beam, beam_frame, go
from tests.e2e.axe import serious_violations

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOP = "acme-tiers.myshopify.com"
# Members already there when tiers are set up: their points from orders.
MEMBERS = (("Ada", "Lovelace", "700.00"), ("Bob", "Marley", "150.00"), ("Cy", "Young", "20.00"))


@pytest.fixture
def store(live_beam_http: str, transactional_db) -> dict[str, Any]:
    from devstore import services as dev
    from loyalty.models import LoyaltyProgram, Member
    from tests.devstore_install import beam_install
    from tests.loyalty.tier_helpers import paid

    dev_shop = dev.shop_create(SHOP, name="Acme Tiers", currency="USD")
    shop = beam_install(dev_shop, name="Acme Tiers")
    LoyaltyProgram.objects.create(shop=shop, welcome_points=0)
    customers = {}
    for n, (first, last, price) in enumerate(MEMBERS):
        customer = dev.customer_create(dev_shop, f"{first.lower()}@example.com", first, last)
        paid(shop, 5000 + n, price, customer_id=customer.id)
        customers[first] = customer
    balances = {
        first: Member.objects.get(shop=shop, customer_id=c.id).lifetime_earned
        for first, c in customers.items()
    }
    assert balances == {"Ada": 700, "Bob": 150, "Cy": 20}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"shop": shop, "customers": customers, "url": live_beam_http}


def submit(page: Page, button: Any) -> None:
    """Click a button of Beam's form and wait until htmx has settled the answer."""
    arm_settle(beam_frame(page))
    button.click()
    beam_frame(page).wait_for_function("() => window.__beamSettled === true")


def history_step(page: Page, script: str) -> None:
    """Run ``script`` (a reload, back or forward) in Beam's frame and wait for a new page:
    the old one's content is marked first, so only a fresh ``#beam-main`` counts."""
    beam_frame(page).evaluate(
        "() => document.querySelectorAll('#beam-main *').forEach(e => e.dataset.stale = '1')"
    )
    beam_frame(page).evaluate(f"() => {script}")
    beam(page).locator("#beam-main h1:not([data-stale])").wait_for()


def test_merchant_sets_up_tiers_reviews_applies_and_the_member_sees_theirs(
    store: dict[str, Any], page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loyalty import tasks
    from loyalty.models import AuditEvent, Member, TierPreview, TierRecompute
    from loyalty.services import tiers_preview

    # The worker is busy: the review's preview job waits until the test runs it (as a large
    # shop's would take its time), so the page has to poll for the counts.
    queued: list[int] = []
    monkeypatch.setattr(
        tiers_preview, "enqueue_on_commit", lambda task, preview_id: queued.append(preview_id)
    )

    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # The form's own 422 (its field errors, swapped in) is logged by the browser too.
        if message.type == "error" and "status of 422" not in message.text:
            problems.append(message.text)

    page.on("console", console)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    expect(app.get_by_role("heading", name="Beam for Acme Tiers")).to_be_visible()

    # From the store admin's menu: no tiers yet, the empty state offers a starter.
    go(page, "VIP tiers")
    expect(app.locator("#beam-main h1")).to_have_text("VIP tiers")
    expect(page.locator('#ds-app-nav a[aria-current="page"]')).to_have_text("VIP tiers")
    expect(app.locator("#beam-tiers-empty")).to_contain_text(
        "Reward your best customers with VIP tiers"
    )
    app.locator("#id_starter").select_option("points")
    submit(page, app.get_by_role("button", name="Set up tiers"))

    # Three tiers in the form: the merchant lowers the thresholds to their members' reach,
    # counts over the members' lifetime, and makes a mistake first.
    expect(app.locator("#id_tier-0-name")).to_have_value("Bronze")
    expect(app.locator("#id_tier-2-name")).to_have_value("Gold")
    expect(app.locator("#tier-1")).to_contain_text("Threshold (points earned)")
    app.locator("#id_tier-1-threshold").fill("100")
    app.locator("#id_tier-2-threshold").fill("500")
    app.get_by_text("Lifetime: everything since the program start").click()
    expect(app.get_by_label("Lifetime: everything since the program start")).to_be_checked()
    app.locator("#id_tier-2-multiplier").fill("0.5")
    with page.expect_response(
        lambda r: r.url.split("?")[0].endswith("/admin/tiers/") and r.request.method == "POST"
    ) as refused:
        submit(page, app.get_by_role("button", name="Review changes"))
    assert refused.value.status == 422
    expect(app.locator("[data-field=multiplier] .Polaris-InlineError")).to_have_text(
        "Ensure this value is greater than or equal to 1."
    )
    app.locator("#id_tier-2-multiplier").fill("2")
    app.locator("#id_tier-2-perks").fill("Free shipping on every order\nBirthday gift")
    assert serious_violations(beam_frame(page)) == []

    # The review: what the change does to the settings at once, and to the members already
    # there once the preview job has worked it out (the card polls its progress meanwhile).
    submit(page, app.get_by_role("button", name="Review changes"))
    review = app.locator("#beam-tiers-review")
    preview = app.locator("#beam-tiers-preview")
    expect(preview).to_have_attribute("hx-trigger", "every 1s")
    expect(app.get_by_role("button", name="Apply")).to_be_disabled()
    expect(review).to_contain_text("Tiers: off → on")
    previewed = TierPreview.objects.get(shop=store["shop"])
    assert queued == [previewed.pk]
    TierPreview.objects.filter(pk=previewed.pk).update(status="running", done=1, total=3)
    expect(app.locator("#beam-tiers-preview-status")).to_have_text(
        "Working out what the change does to members: 1 of 3 looked at."
    )
    indicator = preview.locator(".Polaris-ProgressBar__Indicator")
    expect(indicator).to_have_attribute("data-progress", "0.33")
    assert (
        indicator.evaluate("e => e.style.getPropertyValue('--pc-progress-bar-percent')") == "0.33"
    )
    page.screenshot(path=str(ARTIFACTS / "admin-tiers-preview-progress.png"), full_page=True)
    TierPreview.objects.filter(pk=previewed.pk).update(status="pending", done=0)
    assert tasks.tier_preview_run(previewed.pk) == "done"
    expect(app.locator("#beam-tiers-counts")).to_have_text(
        "3 members move up, 0 move down, 0 lose a granted tier, 0 unchanged."
    )
    expect(preview).not_to_have_attribute("hx-trigger", re.compile("."))
    expect(app.get_by_role("button", name="Apply")).to_be_enabled()
    previewed.refresh_from_db()
    assert (previewed.status, previewed.done, previewed.total) == ("done", 3, 3)
    expect(review).to_contain_text("Tiers: off → on")
    expect(review).to_contain_text("Period: Rolling months → Lifetime")
    expect(review).to_contain_text("Adds the tier Gold, from 500 points")
    expect(app.locator("#beam-tiers-after")).to_contain_text("Gold: from 500 points, 2x points")
    assert serious_violations(beam_frame(page)) == []
    page.screenshot(path=str(ARTIFACTS / "admin-tiers-review.png"), full_page=True)
    assert not TierRecompute.objects.exists()  # nothing saved by the review

    # Apply (the draft the preview holds): the recompute runs, the page shows its progress
    # and final counts.
    submit(page, app.get_by_role("button", name="Apply"))
    progress = app.locator("#beam-tiers-progress")
    expect(progress).to_contain_text(
        "3 members move up, 0 move down, 0 lose a granted tier, 0 unchanged"
    )
    expect(progress).not_to_have_attribute("hx-trigger", re.compile("."))
    indicator = progress.locator(".Polaris-ProgressBar__Indicator")
    expect(indicator).to_have_attribute("data-progress", "1.00")
    assert (
        indicator.evaluate("e => e.style.getPropertyValue('--pc-progress-bar-percent')") == "1.00"
    )
    expect(app.locator("#id_tier-2-perks")).to_have_value(
        "Free shipping on every order\nBirthday gift"
    )
    expect(app.locator("#beam-main .Polaris-Badge")).to_contain_text("On")
    page.screenshot(path=str(ARTIFACTS / "admin-tiers.png"), full_page=True)
    tiers = {
        m.customer_id: m.tier.name if m.tier else None
        for m in Member.objects.filter(shop=store["shop"]).select_related("tier")
    }
    customers = store["customers"]
    assert tiers == {
        customers["Ada"].id: "Gold",
        customers["Bob"].id: "Silver",
        customers["Cy"].id: "Bronze",
    }
    assert AuditEvent.objects.filter(shop=store["shop"], action="tiers.update").count() == 1
    assert TierRecompute.objects.get(shop=store["shop"]).counts == previewed.counts

    # A reload lands on the same page with the saved tiers. Back: the page as the menu opened
    # it (now showing the saved tiers, not the empty state), then Home; forward again.
    history_step(page, "location.reload()")
    expect(app.locator("#id_tier-2-name")).to_have_value("Gold")
    expect(app.locator("#id_tier-2-threshold")).to_have_value("500")
    expect(app.locator("#beam-tiers-progress")).to_contain_text("3 members move up")
    history_step(page, "history.back()")
    expect(app.locator("#id_tier-0-name")).to_have_value("Bronze")
    expect(app.locator("#beam-tiers-empty")).to_have_count(0)
    history_step(page, "history.back()")
    expect(app.get_by_role("heading", name="Beam for Acme Tiers")).to_be_visible()
    history_step(page, "history.forward()")
    expect(app.locator("#beam-main h1")).to_have_text("VIP tiers")
    expect(app.locator("#id_tier-1-name")).to_have_value("Silver")
    assert problems == []

    # The shopper: Ada's panel on the store shows her tier.
    storefront = page.context.new_page()
    shopper.log_in(storefront, f"{store['url']}/devstore/{SHOP}/", "Ada Lovelace <ada@example.com>")
    panel = shopper.open_panel(storefront)
    vip = panel.locator("section", has=storefront.get_by_role("heading", name="VIP status"))
    expect(vip.locator(".tier")).to_have_text("Gold")
    expect(vip.get_by_text("2\u00d7 points on orders")).to_be_visible()
    expect(vip.get_by_text("Birthday gift")).to_be_visible()
    expect(vip.get_by_text("You reached the top tier!")).to_be_visible()
    storefront.screenshot(path=str(ARTIFACTS / "storefront-tier.png"), animations="disabled")
    storefront.close()
