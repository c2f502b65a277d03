"""The store admin's chrome around Beam, drawn from Beam's App Bridge elements by the
devstore's stand-in (``devstore/static/devstore/app-bridge-stub.js``, the parent side in
``admin-frame.js``), in a real Chromium: the sidebar lists Beam's navigation menu and marks the
current item, a click lands on its page, a reload of the admin keeps the app page, back and
forward follow; the header shows each page's title bar and runs its primary action; a form
with unsaved edits shows the admin's save bar, whose Discard resets it and Save submits it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.admin_nav import beam, beam_frame

SHOP = "acme-chrome.myshopify.com"
ADMIN = f"/devstore/{SHOP}/admin/apps/beam"
# The sidebar items, in Beam's order (Home is the app's entry, "Beam", not an item), and what
# each page shows: the frame's heading and the title bar's title (Analytics has none: the
# admin then shows the app's name).
ITEMS = [
    ("Ways to earn", "/admin/earning/", "Ways to earn", "Ways to earn"),
    ("Rewards", "/admin/rewards/", "Rewards", "Rewards"),
    ("VIP tiers", "/admin/tiers/", "VIP tiers", "VIP tiers"),
    ("Referrals", "/admin/referrals/", "Referrals", "Referrals"),
    ("Branding", "/admin/branding/", "Branding", "Branding"),
    ("Customers", "/admin/customers/", "Customers", "Customers"),
    ("Analytics", "/admin/analytics/", "Analytics", "Analytics"),
    ("Settings", "/admin/webhooks/", "Webhook health", "Webhook health"),
]
TIMEOUT_S = 8.0


@pytest.fixture
def store(live_beam: str, transactional_db) -> dict[str, Any]:
    from devstore.models import DevShop
    from loyalty.models import LoyaltyProgram
    from tests.merchants.embedded_helpers import installed_shop

    DevShop.objects.create(domain=SHOP, shop_id=71_000_003, name="Acme Chrome", currency="USD")
    shop = installed_shop(SHOP, name="Acme Chrome")
    LoyaltyProgram.objects.create(shop=shop, welcome_points=50)
    return {"shop": shop, "url": live_beam}


@pytest.fixture
def admin(store, page: Page) -> Page:
    """The store admin with Beam's home in its frame; any console error or uncaught exception
    in either document fails the test at its end."""
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(store["url"] + ADMIN)
    expect(beam(page).locator("h1")).to_contain_text("Beam for Acme Chrome")
    expect(app_item(page, "Rewards")).to_be_visible()
    yield page
    assert problems == []


def sidebar(page: Page) -> Any:
    return page.locator("aside.ds-admin-nav")


def current_item(page: Page) -> str | None:
    """The label of the sidebar link marked current (there must be at most one)."""
    marked = sidebar(page).locator('a[aria-current="page"]')
    count = marked.count()
    assert count <= 1, marked.all_inner_texts()
    return marked.inner_text().strip() if count else None


def admin_path_param(page: Page) -> str | None:
    values = parse_qs(urlsplit(page.url).query).get("path")
    return values[0] if values else None


def lands(page: Page, path: str, heading: str, title: str, current: str) -> None:
    """The frame shows the page at ``path`` (its heading), the admin's header its title,
    the sidebar marks ``current`` and the admin's address names the app path."""
    deadline = time.monotonic() + TIMEOUT_S
    while urlsplit(beam_frame(page).url).path != path:
        assert time.monotonic() < deadline, f"frame at {beam_frame(page).url}, not {path}"
        page.wait_for_timeout(50)
    expect(beam(page).locator("#beam-main h1")).to_have_text(heading)
    expect(page.locator("#ds-title-bar-title")).to_have_text(title)
    expect(sidebar(page).locator('a[aria-current="page"]')).to_have_text(current)
    assert current_item(page) == current
    while admin_path_param(page) != path:
        assert time.monotonic() < deadline, f"admin address {page.url} does not name {path}"
        page.wait_for_timeout(50)


def app_item(page: Page, label: str) -> Any:
    """Beam's item ``label`` in the sidebar (the admin has a Customers link of its own)."""
    return page.get_by_role("list", name="Beam").get_by_role("link", name=label, exact=True)


def click_item(page: Page, label: str) -> None:
    app_item(page, label).click()


def test_sidebar_lists_the_menu_and_each_item_lands_and_is_marked(admin: Page, store) -> None:
    page = admin
    labels = sidebar(page).locator("#ds-app-nav a").all_inner_texts()
    assert labels == [label for label, *_ in ITEMS]
    # Home: the app's entry is current, the header shows Home's title bar.
    expect(page.locator("#ds-title-bar-title")).to_have_text("Beam")
    assert current_item(page) == "Beam"
    # Each item is a real link to this admin page with the app path (middle click, copy).
    for label, path, *_ in ITEMS:
        href = app_item(page, label).get_attribute("href")
        assert href is not None
        assert urlsplit(href).path == ADMIN
        assert parse_qs(urlsplit(href).query) == {"path": [path]}

    for label, path, heading, title in ITEMS:
        click_item(page, label)
        lands(page, path, heading, title, label)

    # The app's entry goes to the app's home.
    page.locator("#ds-app-home").click()
    deadline = time.monotonic() + TIMEOUT_S
    while urlsplit(beam_frame(page).url).path != "/admin/":
        assert time.monotonic() < deadline
        page.wait_for_timeout(50)
    expect(beam(page).locator("#beam-main h1")).to_contain_text("Beam for Acme Chrome")
    expect(sidebar(page).locator('a[aria-current="page"]')).to_have_text("Beam")


def test_htmx_items_swap_the_page_and_home_and_analytics_load_documents(admin: Page) -> None:
    """Beam routes the menu's clicks itself (shopify:navigate): an htmx swap into #beam-main
    for its htmx pages, the address pushed with the shop kept; a document load for Home and
    Analytics."""
    page = admin
    frame = beam_frame(page)
    frame.evaluate("() => { window.__sameDocument = true; }")
    click_item(page, "Rewards")
    lands(page, "/admin/rewards/", "Rewards", "Rewards", "Rewards")
    assert beam_frame(page).evaluate("() => window.__sameDocument === true")
    query = parse_qs(urlsplit(beam_frame(page).url).query)
    assert query["shop"] == [SHOP] and "id_token" not in query
    click_item(page, "Analytics")
    lands(page, "/admin/analytics/", "Analytics", "Analytics", "Analytics")
    assert beam_frame(page).evaluate("() => window.__sameDocument === undefined")


def test_reload_of_the_admin_keeps_the_app_page_and_history_follows(admin: Page) -> None:
    page = admin
    trail = [("/admin/", None)]
    walk = [item for item in ITEMS if item[0] not in ("Branding", "Settings")]
    for label, path, heading, title in walk:  # the last one: Analytics
        click_item(page, label)
        lands(page, path, heading, title, label)
        trail.append((path, label))

    # The admin's address names the app page: a reload (and a copied link) lands there.
    page.reload()
    lands(page, "/admin/analytics/", "Analytics", "Analytics", "Analytics")
    page.goto(page.url)
    lands(page, "/admin/analytics/", "Analytics", "Analytics", "Analytics")
    click_item(page, "Customers")
    lands(page, "/admin/customers/", "Customers", "Customers", "Customers")
    page.reload()
    lands(page, "/admin/customers/", "Customers", "Customers", "Customers")

    # Back and forward (the browser's, from the admin page): the frame steps through the app's
    # pages, the sidebar and the admin's address follow.
    click_item(page, "Rewards")
    lands(page, "/admin/rewards/", "Rewards", "Rewards", "Rewards")
    page.evaluate("() => history.back()")
    lands(page, "/admin/customers/", "Customers", "Customers", "Customers")
    page.evaluate("() => history.forward()")
    lands(page, "/admin/rewards/", "Rewards", "Rewards", "Rewards")


def test_title_bar_shows_each_title_and_runs_its_primary_action(admin: Page, store) -> None:
    from loyalty.models import Reward

    page = admin
    click_item(page, "Rewards")
    lands(page, "/admin/rewards/", "Rewards", "Rewards", "Rewards")
    action = page.locator("#ds-title-bar-actions button")
    expect(action).to_have_count(1)
    expect(action).to_have_text("Add reward")
    expect(action).to_have_class("ds-title-bar-action ds-title-bar-primary")
    action.click()
    # Beam routes the title bar's link like its own (htmx, address pushed).
    lands(page, "/admin/rewards/new", "New reward", "New reward", "Rewards")
    expect(page.locator("#ds-title-bar-actions button")).to_have_count(0)
    app = beam(page)
    app.locator("#id_name").fill("Chrome 5 off")
    app.locator("#id_points_cost").fill("500")
    app.locator("#id_value").fill("5")
    app.get_by_role("button", name="Create reward").click()
    expect(app.locator("#beam-rewards-table")).to_contain_text("Chrome 5 off")
    expect(page.locator("#ds-title-bar-title")).to_have_text("Rewards")
    assert Reward.objects.filter(shop=store["shop"], name="Chrome 5 off").exists()


def test_a_page_declares_its_section_for_the_menu(admin: Page) -> None:
    """A tab page (Points expiry belongs to Ways to earn) names its section with
    data-nav-section (its section tabs carry it): no menu item covers its own path."""
    page = admin
    beam_frame(page).goto(
        f"{urlsplit(page.url).scheme}://{urlsplit(page.url).netloc}/admin/expiry/?shop={SHOP}"
    )
    lands(page, "/admin/expiry/", "Points expiry", "Points expiry", "Ways to earn")
    assert (
        beam_frame(page).evaluate(
            "() => document.querySelector('nav.beam-tabs').dataset.navSection"
        )
        == "/admin/earning/"
    )
    # A tab within the section keeps its menu item marked.
    beam(page).locator("nav.beam-tabs").get_by_role("link", name="Bonus events").click()
    lands(page, "/admin/bonus-events/", "Bonus events", "Bonus events", "Ways to earn")


def test_unsaved_edits_show_the_admin_save_bar(admin: Page, store) -> None:
    from loyalty.models import LoyaltyProgram

    page = admin
    click_item(page, "Ways to earn")
    lands(page, "/admin/earning/", "Ways to earn", "Ways to earn", "Ways to earn")
    bar = page.locator("#ds-save-bar")
    expect(bar).to_be_hidden()
    field = beam(page).locator("#id_welcome_points")
    expect(field).to_have_value("50")

    # An edit shows the bar with the app's buttons; Discard resets the form and hides it.
    field.fill("77")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("Unsaved changes")
    expect(bar.get_by_role("button", name="Save")).to_be_visible()
    bar.get_by_role("button", name="Discard").click()
    expect(bar).to_be_hidden()
    expect(field).to_have_value("50")
    assert LoyaltyProgram.objects.get(shop=store["shop"]).welcome_points == 50

    # Leaving through the menu with unsaved edits asks first, as a link in the page does.
    field.fill("66")
    expect(bar).to_be_visible()
    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", stay)
    click_item(page, "Customers")
    page.wait_for_timeout(500)
    assert asked == ["Leave this page? Your unsaved changes will be lost."]
    expect(field).to_have_value("66")
    expect(bar).to_be_visible()
    assert current_item(page) == "Ways to earn"

    # Save submits the form; the bar goes.
    bar.get_by_role("button", name="Save").click()
    expect(beam(page).get_by_text("Settings saved.")).to_be_visible()
    expect(bar).to_be_hidden()
    assert LoyaltyProgram.objects.get(shop=store["shop"]).welcome_points == 66

    # And with edits again, leaving confirmed: the page changes, the bar goes.
    beam(page).locator("#id_welcome_points").fill("12")
    expect(bar).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    click_item(page, "Customers")
    lands(page, "/admin/customers/", "Customers", "Customers", "Customers")
    expect(bar).to_be_hidden()
    assert LoyaltyProgram.objects.get(shop=store["shop"]).welcome_points == 66


def test_the_chrome_works_across_origins_and_ignores_other_senders(
    store, settings, page: Page
) -> None:
    """The store admin on another origin than Beam (127.0.0.1 against localhost): the menu,
    title bar and navigation still work, and a message that does not come from the other
    side (here: a document posting to itself) changes nothing on either side."""
    app = urlsplit(store["url"])
    admin_origin = f"http://127.0.0.1:{app.port}"
    assert app.hostname == "localhost"
    settings.SHOPIFY_STORE_ORIGIN = admin_origin + "/devstore/{shop}"
    settings.SHOPIFY_EXTRA_FRAME_ANCESTORS = [admin_origin]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(admin_origin + ADMIN)
    expect(beam(page).locator("h1")).to_contain_text("Beam for Acme Chrome")
    click_item(page, "Rewards")
    lands(page, "/admin/rewards/", "Rewards", "Rewards", "Rewards")

    forged = (
        "{channel: 'devstore-app-bridge', type: 'titleBar', data: {title: 'Forged', actions: []}}"
    )
    page.evaluate(f"() => window.postMessage({forged}, '*')")
    beam_frame(page).evaluate(
        "() => window.postMessage({channel: 'devstore-app-bridge', type: 'navigate',"
        " data: {href: '/admin/customers/'}}, '*')"
    )
    page.wait_for_timeout(500)
    expect(page.locator("#ds-title-bar-title")).to_have_text("Rewards")
    assert urlsplit(beam_frame(page).url).path == "/admin/rewards/"
    page.locator("#ds-title-bar-actions button").click()
    lands(page, "/admin/rewards/new", "New reward", "New reward", "Rewards")
    assert errors == []
