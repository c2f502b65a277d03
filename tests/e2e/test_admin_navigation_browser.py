"""Every navigation in the embedded admin lands on its page, in a real Chromium inside the
devstore's store-admin frame: each link and tab of every admin page reachable from Home is
clicked, each page is reloaded, history goes back and forward, a deep link is opened, and the
CSV exports download. Any 4xx/5xx answer, browser error page, console error or uncaught
exception fails the test (a document without a token must go through the session-token
bounce and come back to the same URL)."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Response, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.admin_nav import beam, beam_frame, menu_item, tab

SHOP = "acme-nav.myshopify.com"
LAND_TIMEOUT_S = 8.0
# Visible links of the frame that navigate inside the admin (downloads are tested apart):
# their index among the page's links and what tells them apart (a nav tab and a Home link to
# the same page are different links: one is an htmx swap, the other a document load).
LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
  .map((a, i) => ({i, a}))
  .filter(({a}) => a.offsetParent !== null && !a.hasAttribute('download') && !a.target
               && new URL(a.href).origin === location.origin
               && new URL(a.href).pathname.startsWith('/admin/'))
  .map(({i, a}) => ({i, href: a.getAttribute('href'),
                     key: [a.getAttribute('href'), a.hasAttribute('hx-get') ? 'htmx' : 'document',
                           a.textContent.trim()].join(' | ')}))"""
# Visible buttons of the page's content (the save bar's belong to App Bridge).
BUTTONS_JS = """() => Array.from(document.querySelectorAll('#beam-main button'))
  .map((b, i) => ({i, b}))
  .filter(({b}) => b.offsetParent !== null)
  .map(({i, b}) => ({i, key: location.pathname + ' | ' + b.textContent.trim()}))"""
# Answers a form may give on purpose (its errors, swapped in): a clicked button may get them.
VALIDATION_STATUSES = frozenset({400, 409, 422})


class Problems:
    """Everything that went wrong in the browser, with the step it happened in."""

    def __init__(self, origin: str, *, allowed: frozenset[int] = frozenset()) -> None:
        self.origin = origin
        self.allowed = allowed  # statuses htmx requests may get (form errors swapped in)
        self.step = "start"
        self.seen: list[str] = []

    def response(self, response: Response) -> None:
        kind = response.request.resource_type
        if response.status in self.allowed and kind in ("xhr", "fetch"):
            return
        if response.status >= 400 and response.url.startswith(self.origin):
            self.seen.append(f"[{self.step}] {response.status} {kind} {response.url}")

    def console(self, message: ConsoleMessage) -> None:
        status = re.search(r"Failed to load resource: .* status of (\d+)", message.text)
        if status and int(status.group(1)) in self.allowed:
            return
        if message.type == "error":
            self.seen.append(f"[{self.step}] console: {message.text}")

    def page_error(self, error: Any) -> None:
        self.seen.append(f"[{self.step}] page error: {error}")

    def assert_none(self) -> None:
        assert self.seen == [], "\n".join(self.seen)


@pytest.fixture
def store(live_beam: str, transactional_db) -> dict[str, Any]:
    from devstore.models import DevShop
    from loyalty.models import LoyaltyProgram, Member
    from loyalty.services import points_adjust
    from tests.merchants.embedded_helpers import installed_shop

    DevShop.objects.create(domain=SHOP, shop_id=71_000_002, name="Acme Nav", currency="USD")
    shop = installed_shop(SHOP, name="Acme Nav")
    LoyaltyProgram.objects.create(shop=shop)
    members = []
    for i, (first, email) in enumerate(
        [("Jane", "jane@example.com"), ("John", "john@example.com")]
    ):
        member = Member.objects.create(
            shop=shop, customer_id=9000 + i, email=email, first_name=first, last_name="Doe"
        )
        points_adjust(
            shop=shop,
            member=member,
            amount=120 + i,
            reason="seed",
            actor="1",
            idempotency_key=f"nav{i}",
        )
        members.append(member)
    return {"shop": shop, "url": live_beam, "members": members}


# Before each navigation every element of the page is marked: landing needs a new one (a new
# document, or htmx's swap), else a reload would "land" on the page it is leaving.
MARK_STALE_JS = (
    "() => document.querySelectorAll('#beam-main *').forEach(e => e.dataset.beamStale = '1')"
)
PAGE_STATE_JS = """() => ({
  h1: (document.querySelector('#beam-main h1') || {}).textContent || null,
  fresh: !!document.querySelector('#beam-main *:not([data-beam-stale])'),
  navs: document.querySelectorAll('ui-nav-menu').length,
  mains: document.querySelectorAll('#beam-main').length,
  bounce: !!document.getElementById('beam-bounce'),
})"""
HEADINGS: dict[str, str] = {}  # path -> its page's heading, as first landed on
# A screenshot of every admin page, as first landed on, for a reviewer (not committed).
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def mark_stale(page: Page) -> None:
    beam_frame(page).evaluate(MARK_STALE_JS)


def landed(page: Page, path: str, problems: Problems) -> None:
    """Wait until Beam's frame shows the whole admin page at ``path``: not the bounce page,
    not the browser's error page, one navigation bar and one main (not a page nested in
    another), and the heading the page had when first seen. Fail at once on a problem."""
    deadline = time.monotonic() + LAND_TIMEOUT_S
    last: Any = ""
    while time.monotonic() < deadline:
        problems.assert_none()
        frame = beam_frame(page)
        url = frame.url
        assert not url.startswith("chrome-error:"), f"[{problems.step}] error page at {url}"
        if urlsplit(url).path == path:
            try:
                last = frame.evaluate(PAGE_STATE_JS)
            except PlaywrightError:  # the frame navigated while we looked
                last = "navigating"
            if isinstance(last, dict) and last["h1"] and last["fresh"] and not last["bounce"]:
                assert (last["navs"], last["mains"]) == (1, 1), f"[{problems.step}] {last}"
                if path not in HEADINGS:
                    screenshot(page, path)
                heading = HEADINGS.setdefault(path, last["h1"].strip())
                assert last["h1"].strip() == heading, f"[{problems.step}] {last}"
                page.wait_for_timeout(100)  # late errors of the landing page
                problems.assert_none()
                return
        else:
            last = url
        page.wait_for_timeout(50)
    raise AssertionError(f"[{problems.step}] did not land on {path}; frame: {last}")


def screenshot(page: Page, path: str) -> None:
    """The whole store-admin page with Beam's page at ``path`` in its frame."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    inner = path.removeprefix("/admin").strip("/").lower()
    name = re.sub(r"[^a-z0-9]+", "-", inner) or "home"
    page.screenshot(
        path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True, animations="disabled"
    )


def history_step(page: Page, step: str, path: str, problems: Problems) -> None:
    """``history.back()``/``forward()`` in Beam's frame lands on the whole page at ``path``."""
    problems.step = f"history.{step} to {path}"
    mark_stale(page)
    beam_frame(page).evaluate(f"() => history.{step}()")
    landed(page, path, problems)


def reload_lands(page: Page, problems: Problems) -> None:
    path = urlsplit(beam_frame(page).url).path
    problems.step = f"reload {path}"
    mark_stale(page)
    beam_frame(page).evaluate("() => location.reload()")
    landed(page, path, problems)


def open_deep_link(page: Page, origin: str, path: str, problems: Problems) -> None:
    """Load ``path`` in Beam's frame as a deep link: the shop's name, no token."""
    problems.step = f"deep link {path}"
    mark_stale(page)
    beam_frame(page).goto(f"{origin}{path}?shop={SHOP}")
    landed(page, path, problems)


def test_every_link_tab_reload_and_history_step_lands(store, page: Page) -> None:
    problems = Problems(store["url"])
    page.on("response", problems.response)
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    expect(beam(page).locator("h1")).to_contain_text("Beam for")
    problems.assert_none()
    # The app-load URL's signature and token are spent: its reload bounces and lands.
    assert "id_token" not in beam_frame(page).url
    reload_lands(page, problems)

    # Walk: every page reachable from Home; on each, click every link not clicked before
    # (coming back to the page first), then reload it.
    to_visit = ["/admin/"]
    visited: set[str] = set()
    clicked: set[str] = set()
    while to_visit:
        here = to_visit.pop(0)
        if here in visited:
            continue
        visited.add(here)
        if urlsplit(beam_frame(page).url).path != here:
            open_deep_link(page, store["url"], here, problems)
        reload_lands(page, problems)
        for link in beam_frame(page).evaluate(LINKS_JS):
            if link["key"] in clicked:
                continue
            clicked.add(link["key"])
            if urlsplit(beam_frame(page).url).path != here:
                open_deep_link(page, store["url"], here, problems)
            problems.step = f"click {link['key']} on {here}"
            mark_stale(page)
            beam_frame(page).locator("a[href]").nth(link["i"]).click()
            target = urlsplit(link["href"]).path
            landed(page, target, problems)
            if target not in visited:
                to_visit.append(target)

    expected = {
        "/admin/",
        "/admin/welcome/",
        "/admin/earning/",
        "/admin/bonus-events/",
        "/admin/expiry/",
        "/admin/landing/",
        "/admin/texts/",
        "/admin/webhooks/",
        "/admin/rewards/",
        "/admin/tiers/",
        "/admin/branding/",
        "/admin/customers/",
        "/admin/analytics/",
        "/admin/audit/",
    }
    assert expected <= visited, sorted(visited)
    home_links = {key for key in clicked if key.endswith("Set up and launch in two minutes")}
    assert home_links == {"/admin/welcome/ | document | Set up and launch in two minutes"}
    assert "/admin/analytics/ | document | Analytics" in clicked
    assert len(clicked) >= 30, sorted(clicked)

    # Back and forward across htmx swaps and document loads (Home and Analytics are
    # document-only pages): each step shows the whole page it names.
    open_deep_link(page, store["url"], "/admin/", problems)
    trail = ["/admin/"]
    # Through the store admin's menu (App Bridge) and a section's tabs.
    steps = (
        (menu_item, "Settings", "/admin/webhooks/"),
        (tab, "Setup", "/admin/welcome/"),
        (menu_item, "Rewards", "/admin/rewards/"),
        (menu_item, "Analytics", "/admin/analytics/"),
        (menu_item, "Customers", "/admin/customers/"),
        (menu_item, "Home", "/admin/"),
        (menu_item, "Settings", "/admin/webhooks/"),
        (tab, "Audit trail", "/admin/audit/"),
    )
    for locate, label, path in steps:
        problems.step = f"menu {label}"
        mark_stale(page)
        locate(page, label).click()
        landed(page, path, problems)
        trail.append(path)
    for path in reversed(trail[:-1]):
        history_step(page, "back", path, problems)
    for path in trail[1:]:
        history_step(page, "forward", path, problems)

    # A deep link to Analytics with no token, and a reload of the whole store admin.
    problems.step = "deep link analytics"
    mark_stale(page)
    beam_frame(page).goto(f"{store['url']}/admin/analytics/?shop={SHOP}&range=90d")
    landed(page, "/admin/analytics/", problems)
    reload_lands(page, problems)
    # The store admin's address follows the app's page (?path=): its reload lands there again.
    problems.step = "reload the store admin"
    page.reload()
    landed(page, "/admin/analytics/", problems)
    assert "range=90d" in beam_frame(page).url
    problems.assert_none()


def settled(page: Page, problems: Problems) -> None:
    """After a button: wait for its answer to be swapped in (a button whose confirmation was
    dismissed sends nothing: give it up to two seconds), then the frame must still show one
    whole admin page, with no problem recorded."""
    deadline = time.monotonic() + 2.0
    state: Any = None
    while time.monotonic() < deadline:
        problems.assert_none()
        frame = beam_frame(page)
        assert not frame.url.startswith("chrome-error:"), f"[{problems.step}] error page"
        try:
            state = frame.evaluate(PAGE_STATE_JS)
            busy = frame.evaluate("() => !!document.querySelector('.htmx-request')")
        except PlaywrightError:  # the frame navigated while we looked
            state, busy = None, True
        if state and state["fresh"] and state["h1"] and not busy:
            break
        page.wait_for_timeout(50)
    page.wait_for_timeout(150)  # late errors of the answer
    problems.assert_none()
    state = beam_frame(page).evaluate(PAGE_STATE_JS)
    assert state["h1"] and (state["navs"], state["mains"]) == (1, 1), (problems.step, state)


def test_every_button_answers_and_the_page_stays_usable(store, page: Page) -> None:
    """Each button of each admin page, clicked as found (empty forms included): the answer is
    a page or the form's own errors, never an error page, a 5xx, a 401 or a console error."""
    problems = Problems(store["url"], allowed=VALIDATION_STATUSES)
    page.on("response", problems.response)
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    expect(beam(page).locator("h1")).to_contain_text("Beam for")
    member = store["members"][0]
    pages = [
        "/admin/welcome/",
        "/admin/earning/",
        "/admin/bonus-events/",
        "/admin/rewards/new",
        "/admin/tiers/",
        "/admin/expiry/",
        "/admin/branding/",
        "/admin/landing/",
        "/admin/texts/",
        "/admin/customers/",
        f"/admin/customers/{member.pk}/",
        "/admin/customers/import",
        "/admin/analytics/",
        "/admin/webhooks/",
        "/admin/audit/",
        "/admin/",
    ]
    pressed = []
    for path in pages:
        open_deep_link(page, store["url"], path, problems)
        for button in beam_frame(page).evaluate(BUTTONS_JS):
            if urlsplit(beam_frame(page).url).path != path:
                open_deep_link(page, store["url"], path, problems)
            problems.step = f"button {button['key']}"
            mark_stale(page)
            beam_frame(page).locator("#beam-main button").nth(button["i"]).click()
            settled(page, problems)
            pressed.append(button["key"])
    assert len(pressed) >= 12, pressed
    problems.assert_none()


def _download_csv(page: Page, name: str, problems: Problems) -> list[list[str]]:
    problems.step = f"download {name}"
    app = beam(page)
    with page.expect_download(timeout=LAND_TIMEOUT_S * 1000) as info:
        app.get_by_role("link", name=name).click()
    download = info.value
    assert download.failure() is None, download.failure()
    text = Path(download.path()).read_text(encoding="utf-8")
    problems.assert_none()
    return list(csv.reader(io.StringIO(text)))


def test_customer_exports_download_in_the_embedded_frame(store, page: Page) -> None:
    problems = Problems(store["url"])
    page.on("response", problems.response)
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    expect(app.locator("h1")).to_contain_text("Beam for")
    problems.step = "open customers"
    menu_item(page, "Customers").click()
    landed(page, "/admin/customers/", problems)

    members = _download_csv(page, "Export members", problems)
    assert members[0][:2] == ["customer_id", "email"], members[0]
    emails = {row[1] for row in members[1:]}
    assert emails == {"jane@example.com", "john@example.com"}

    ledger = _download_csv(page, "Export ledger", problems)
    assert ledger[0] and len(ledger) == 3, ledger
    assert urlsplit(beam_frame(page).url).path == "/admin/customers/"
    problems.assert_none()
