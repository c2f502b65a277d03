"""The embedded admin in a real Chromium, through the devstore's store-admin frame (which
iframes Beam like the platform's admin, with the App Bridge stand-in), against the live
server: run the setup wizard, create a reward, change branding and watch the live preview
follow, find a customer, adjust points, import a CSV with one bad row. Screenshots go to
``tests/artifacts/``. Core Web Vitals are measured inside Beam's frame with observers
written here (LCP, CLS with session windows, INP from Event Timing) and held to the
bars of issue 13 (tighter than Built-for-Shopify's 2.5 s and 0.1): LCP ≤ 1.5 s, CLS ≤ 0.05,
INP ≤ 200 ms."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Frame, Page, expect

from tests.e2e.admin_nav import PAGES, arm_settle, beam, beam_frame, go, menu_item
from tests.e2e.axe import serious_violations

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOP = "acme-admin.myshopify.com"
LCP_BUDGET_MS = 1500
CLS_BUDGET = 0.05
INP_BUDGET_MS = 200

# Web-vitals logic (after the definitions of web.dev's metrics), run in every frame:
# LCP = the last largest-contentful-paint entry before the first input;
# CLS = the largest session window of layout shifts without recent input (gap < 1 s,
#       window < 5 s);
# INP = the longest interaction (event entries grouped by interactionId; with fewer than
#       50 interactions the worst one counts). ``worst`` names that interaction and splits it
#       into input delay and handler time; the rest of its duration is presentation delay.
#       Measured: 48-96 ms on a quiet machine (handlers ~1 ms, style recalc <= 5 ms, the rest
#       waiting for the frame); 264-312 ms only while other workloads shared the 2 cores.
VITALS = """(() => {
  const v = window.__vitals = {lcp: 0, cls: 0, inp: 0, interactions: 0, worst: null};
  const po = (type, cb, opts) => {
    try { new PerformanceObserver(l => l.getEntries().forEach(cb))
            .observe(Object.assign({type, buffered: true}, opts || {})); } catch (e) {}
  };
  let inputSeen = false;
  po('largest-contentful-paint', e => {
    if (!inputSeen) v.lcp = Math.max(v.lcp, e.renderTime || e.loadTime || e.startTime);
  });
  let win = 0, first = 0, last = 0;
  po('layout-shift', e => {
    if (e.hadRecentInput) return;
    if (win && e.startTime - last < 1000 && e.startTime - first < 5000) { win += e.value; }
    else { win = e.value; first = e.startTime; }
    last = e.startTime;
    v.cls = Math.max(v.cls, win);
  });
  const byId = new Map();
  const onEvent = e => {
    if (!e.interactionId) return;
    inputSeen = true;
    const d = Math.max(byId.get(e.interactionId) || 0, e.duration);
    byId.set(e.interactionId, d);
    v.interactions = byId.size;
    if (d > v.inp) {
      const t = e.target;
      v.worst = {name: e.name, duration: e.duration, wait: e.processingStart - e.startTime,
                 handlers: e.processingEnd - e.processingStart,
                 target: t ? (t.id || t.name || t.textContent || t.tagName).trim().slice(0, 40)
                           : null};
    }
    v.inp = Math.max(v.inp, d);
  };
  po('event', onEvent, {durationThreshold: 16});
  po('first-input', onEvent);
})();"""


@pytest.fixture
def store(live_beam_http: str, transactional_db) -> dict[str, Any]:
    from devstore.models import DevShop
    from loyalty.models import LoyaltyProgram, Member
    from loyalty.services import points_adjust
    from tests.devstore_install import beam_install

    dev_shop = DevShop.objects.create(
        domain=SHOP, shop_id=71_000_001, name="Acme Admin", currency="USD"
    )
    shop = beam_install(dev_shop, name="Acme Admin")
    LoyaltyProgram.objects.create(shop=shop)
    members = []
    for i, (first, last, email) in enumerate(
        [
            ("Jane", "Doe", "jane@example.com"),
            ("John", "Smith", "john@example.com"),
            ("Ann", "Lee", "ann@example.com"),
        ]
    ):
        m = Member.objects.create(
            shop=shop, customer_id=9000 + i, email=email, first_name=first, last_name=last
        )
        points_adjust(
            shop=shop, member=m, amount=120, reason="seed", actor="1", idempotency_key=f"s{i}"
        )
        members.append(m)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"shop": shop, "members": members, "url": live_beam_http}


def nav(page: Page, label: str) -> None:
    """Open an admin page from the store admin's menu or its section's tabs, and wait."""
    go(page, label)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def vitals(frame: Frame) -> dict[str, float]:
    frame.wait_for_timeout(300)  # let the observers deliver buffered entries
    return frame.evaluate("() => Object.assign({}, window.__vitals)")


def launcher_colour(page: Page) -> str:
    preview = beam(page).frame_locator("#beam-preview-frame")
    button = preview.locator("#beam-root button.l")
    expect(button).to_be_visible()
    return button.evaluate("b => getComputedStyle(b).backgroundColor")


def test_merchant_runs_the_program_in_the_embedded_admin(store, page: Page) -> None:
    page.add_init_script(VITALS)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    expect(app.get_by_role("heading", name="Beam for Acme Admin")).to_be_visible()
    shot(page, "01-home")

    # Set-up wizard: defaults, one click.
    nav(page, "Setup")
    expect(app.get_by_role("heading", name="Launch your rewards program")).to_be_visible()
    expect(app.locator("#id_points_per_currency_unit")).to_have_value("1")
    shot(page, "02-wizard")
    app.get_by_role("button", name="Review").click()
    review = app.locator("#beam-onboarding-review")
    expect(review).to_contain_text("Launches the program")
    expect(review).to_contain_text("Adds the reward Free shipping (800 points)")
    app.get_by_role("button", name="Confirm and launch").click()
    expect(app.locator("#beam-program-status")).to_contain_text("Your program is live since")
    assert re.search(r"/admin/(\?|$)", beam_frame(page).url)
    nav(page, "Rewards")
    expect(app.locator("#beam-rewards-table")).to_contain_text("$5 off your order")
    expect(app.locator("#beam-rewards-table")).to_contain_text("10% off your order")
    # The pushed address keeps the shop (a reload of it bounces and lands).
    assert re.search(rf"/admin/rewards/\?shop={SHOP}&", beam_frame(page).url)

    # Running the wizard again on the live program starts from its settings and adds nothing.
    nav(page, "Setup")
    expect(app.locator("#beam-starters-present")).to_contain_text("Free shipping (800 points)")
    app.get_by_role("button", name="Review").click()
    expect(app.locator("#beam-onboarding-review")).to_contain_text("Nothing")
    app.get_by_role("button", name="Back to edit").click()
    expect(app.locator("#id_points_per_currency_unit")).to_be_visible()

    # A new reward, with a validation error first.
    nav(page, "Rewards")
    app.locator("main").get_by_role("link", name="Add reward").click()
    app.locator("#id_name").fill("VIP 15% off")
    app.locator("#id_kind").select_option("percentage")
    app.locator("#id_points_cost").fill("1500")
    app.locator("#id_value").fill("150")
    app.get_by_role("button", name="Create reward").click()
    expect(app.locator("[data-field=value] .Polaris-InlineError")).to_have_text(
        "A percentage is between 0 and 100."
    )
    app.locator("#id_value").fill("15")
    app.get_by_role("button", name="Create reward").click()
    expect(app.locator("#beam-rewards-table")).to_contain_text("VIP 15% off")
    shot(page, "03-rewards")

    # Branding: the live preview runs the real launcher and follows the fields.
    nav(page, "Branding")
    expect(app.get_by_role("heading", name="Live preview")).to_be_visible()
    assert launcher_colour(page) == "rgb(79, 70, 229)"
    app.locator("#id_primary_color").fill("#ff0000")
    expect(app.locator("#beam-preview")).to_have_attribute("data-preview-color", "#ff0000")
    assert launcher_colour(page) == "rgb(255, 0, 0)"
    app.locator("#id_launcher_label").fill("Perks club")
    preview = app.frame_locator("#beam-preview-frame")
    expect(preview.locator("#beam-root button.l")).to_contain_text("Perks club")
    shot(page, "04-branding-preview")
    arm_settle(beam_frame(page))
    with page.expect_response(
        lambda r: "/admin/branding/" in r.url and r.request.method == "POST"
    ) as saved:
        app.get_by_role("button", name="Save").click()
    assert saved.value.status == 200
    # The saved page is swapped in (with a new preview) before the merchant looks at it.
    beam_frame(page).wait_for_function("() => window.__beamSettled === true")
    expect(app.locator("#beam-preview")).to_have_attribute("data-preview-color", "#ff0000")
    # The preview after the save shows the launcher being styled, not a re-opened panel.
    expect(preview.locator("#beam-root button.l")).to_have_attribute("aria-expanded", "false")
    preview.locator("#beam-root button.l").click()  # the merchant opens the panel to see it
    expect(preview.locator("#beam-root button.l")).to_have_attribute("aria-expanded", "true")
    # What the preview showed is what the store shows: the shopper's launcher, in the store.
    storefront = page.context.new_page()
    storefront.goto(f"{store['url']}/devstore/{SHOP}/")
    launcher = storefront.locator("#beam-root button.l")
    expect(launcher).to_contain_text("Perks club")
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(255, 0, 0)"
    storefront.close()

    # Customers: search, open, adjust with a reason.
    nav(page, "Customers")
    app.locator("#beam-member-q").fill("jane")
    expect(app.locator("#beam-members tbody tr")).to_have_count(1)
    expect(app.locator("#beam-members")).to_contain_text("jane@example.com")
    shot(page, "05-customer-search")
    app.locator("#beam-members").get_by_role("link", name="Jane Doe").click()
    expect(app.locator("#beam-balance")).to_have_text("120")
    app.locator("#id_amount").fill("50")
    app.get_by_role("button", name="Record adjustment").click()
    expect(app.locator("[data-field=reason] .Polaris-InlineError")).to_have_text("Give a reason.")
    expect(app.locator("#beam-balance")).to_have_text("120")
    app.locator("#id_reason").fill("Goodwill for a late parcel")
    app.get_by_role("button", name="Record adjustment").click()
    expect(app.locator("#beam-balance")).to_have_text("170")
    expect(app.locator("#beam-ledger")).to_contain_text("Goodwill for a late parcel")
    shot(page, "06-customer-adjusted")

    # Import balances: preview with one bad row, then import.
    nav(page, "Customers")
    app.locator("main").get_by_role("link", name="Import balances").click()
    app.locator("#id_file").set_input_files(
        files=[
            {
                "name": "balances.csv",
                "mimeType": "text/csv",
                "buffer": (
                    b"customer_id,email,first_name,last_name,points\n"
                    b"9100,new@example.com,Nia,Ng,300\n"
                    b"oops,bad@example.com,Bad,Row,10\n"
                ),
            }
        ]
    )
    app.get_by_role("button", name="Preview").click()
    expect(app.locator("#beam-import-preview")).to_contain_text("1 with errors")
    expect(app.locator("#beam-import-preview")).to_contain_text(
        "customer_id must be a positive whole number"
    )
    shot(page, "07-import-preview")
    app.get_by_role("button", name=re.compile("Import the valid rows")).click()
    expect(app.locator("#beam-import-report")).to_contain_text(
        "2 row(s): 1 new, 0 changed, 0 unchanged, 1 not imported."
    )
    shot(page, "08-import-done")

    nav(page, "Audit trail")
    # In words: who by the name the platform gave, what as a sentence, changes from → to.
    expect(app.locator("#beam-audit")).to_contain_text("Imported members:")
    expect(app.locator("#beam-audit")).to_contain_text("Adjusted points:")
    expect(app.locator("#beam-audit")).to_contain_text("Store Owner")
    expect(app.locator("#beam-audit")).not_to_contain_text("points.adjust")
    shot(page, "09-audit")
    # Interactions so far happened in one document (htmx swaps): INP and CLS over them.
    soft = vitals(beam_frame(page))
    measured: dict[str, Any] = {"htmx_session": soft}
    assert soft["interactions"] >= 1  # only interactions of 16 ms or more are reported
    assert soft["inp"] <= INP_BUDGET_MS, f"INP {soft['inp']} ms, worst: {soft['worst']}"
    assert soft["cls"] <= CLS_BUDGET, soft

    # Back and forward load the address as a document (through the bounce): a new document.
    # The audit trail is a tab of Settings, whose menu item opened Webhook health first.
    beam_frame(page).evaluate("() => history.back()")
    expect(app.get_by_role("heading", name="Webhook health")).to_be_visible()
    beam_frame(page).evaluate("() => history.forward()")
    expect(app.get_by_role("heading", name="Audit trail")).to_be_visible()

    # Document loads of admin pages, as the platform loads an app URL (shop and a fresh
    # id_token appended, the token from App Bridge).
    frame = beam_frame(page)
    for path in ("/admin/rewards/", "/admin/customers/", "/admin/branding/", "/admin/audit/"):
        token = frame.evaluate("() => window.shopify.idToken()")
        frame.goto(f"{store['url']}{path}?shop={SHOP}&id_token={token}")
        expect(frame.locator("#beam-main h1")).to_be_visible()
        loaded = vitals(frame)
        measured[path] = loaded
        assert 0 < loaded["lcp"] <= LCP_BUDGET_MS, (path, loaded)
        assert loaded["cls"] <= CLS_BUDGET, (path, loaded)
    (ARTIFACTS / "admin-vitals.json").write_text(json.dumps(measured, indent=2))

    from loyalty.models import AuditEvent, LoyaltyProgram, Member, Reward

    program = LoyaltyProgram.objects.get(shop=store["shop"])
    assert program.onboarded_at is not None
    assert program.branding["primary_color"] == "#ff0000"
    assert Reward.objects.filter(shop=store["shop"], name="VIP 15% off").exists()
    assert Member.objects.get(shop=store["shop"], customer_id=9000).balance == 170
    assert Member.objects.get(shop=store["shop"], customer_id=9100).balance == 300
    assert set(AuditEvent.objects.values_list("actor", flat=True)) != {""}


def test_unsaved_edits_are_not_lost_by_a_link_without_asking(store, page: Page) -> None:
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    nav(page, "Ways to earn")
    app.locator("#id_welcome_points").fill("77")
    tab = menu_item(page, "Customers")
    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", stay)
    tab.click()
    page.wait_for_timeout(500)
    assert asked == ["Leave this page? Your unsaved changes will be lost."]
    expect(app.locator("#id_welcome_points")).to_have_value("77")  # still there, unsaved

    page.once("dialog", lambda dialog: dialog.accept())
    tab.click()
    expect(app.locator("#beam-member-q")).to_be_visible()


def test_every_admin_page_has_no_serious_accessibility_violation(
    store: dict[str, Any], page: Page
) -> None:
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    expect(beam(page).get_by_role("heading", name="Beam for Acme Admin")).to_be_visible()
    found = {"Home": serious_violations(beam_frame(page))}
    for label in PAGES:
        if label != "Home":
            nav(page, label)
            found[label] = serious_violations(beam_frame(page))
    assert len(found) == 17
    assert {page: v for page, v in found.items() if v} == {}
