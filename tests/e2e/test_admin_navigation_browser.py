"""Every navigation in the embedded admin lands on its page, in a real Chromium inside the
devstore's store-admin frame: each link and tab of every admin page reachable from Home is
clicked, each page is reloaded, history goes back and forward, a deep link is opened, and the
CSV exports download. Any 4xx/5xx answer, browser error page, console error or uncaught
exception fails the test (a document without a token must go through the session-token
bounce and come back to the same URL)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed"),
]

try:
    from playwright.sync_api import ConsoleMessage, Frame, Page, Response, expect
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # pragma: no cover
    pytest.skip("playwright is not installed", allow_module_level=True)

SHOP = "acme-nav.myshopify.com"
LAND_TIMEOUT_S = 8.0
# Visible links of the frame that navigate inside the admin (downloads are tested apart).
LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
  .filter(a => a.offsetParent !== null && !a.hasAttribute('download') && !a.target
               && new URL(a.href).origin === location.origin
               && new URL(a.href).pathname.startsWith('/admin/'))
  .map(a => a.getAttribute('href'))"""


class Problems:
    """Everything that went wrong in the browser, with the step it happened in."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.step = "start"
        self.seen: list[str] = []

    def response(self, response: Response) -> None:
        if response.status >= 400 and response.url.startswith(self.origin):
            kind = response.request.resource_type
            self.seen.append(f"[{self.step}] {response.status} {kind} {response.url}")

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.seen.append(f"[{self.step}] console: {message.text}")

    def page_error(self, error: Any) -> None:
        self.seen.append(f"[{self.step}] page error: {error}")

    def assert_none(self) -> None:
        assert self.seen == [], "\n".join(self.seen)


@pytest.fixture
def store(live_server, settings, transactional_db) -> dict[str, Any]:
    from devstore.models import DevShop
    from loyalty.models import LoyaltyProgram, Member
    from loyalty.services import points_adjust
    from tests.merchants.embedded_helpers import installed_shop

    settings.SHOPIFY_APP_URL = live_server.url
    settings.SHOPIFY_STORE_ORIGIN = live_server.url + "/devstore/{shop}"
    DevShop.objects.create(domain=SHOP, shop_id=71_000_002, name="Acme Nav", currency="USD")
    shop = installed_shop(SHOP, name="Acme Nav")
    LoyaltyProgram.objects.create(shop=shop)
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
    return {"shop": shop, "url": live_server.url}


def beam_frame(page: Page) -> Frame:
    frame = page.locator("iframe.ds-app-frame").element_handle().content_frame()
    assert frame is not None
    return frame


def landed(page: Page, path: str, problems: Problems) -> None:
    """Wait until Beam's frame shows the admin page at ``path`` (not the bounce page, not the
    browser's error page); fail at once on a recorded problem."""
    deadline = time.monotonic() + LAND_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        problems.assert_none()
        frame = beam_frame(page)
        last = frame.url
        assert not last.startswith("chrome-error:"), f"[{problems.step}] error page at {last}"
        if urlsplit(last).path == path:
            try:
                if (
                    frame.locator("#beam-main h1").count()
                    and not frame.locator("#beam-bounce").count()
                ):
                    page.wait_for_timeout(100)  # late errors of the landing page
                    problems.assert_none()
                    return
            except PlaywrightError:  # the frame navigated while we looked
                pass
        page.wait_for_timeout(50)
    raise AssertionError(f"[{problems.step}] did not land on {path}; frame at {last}")


def reload_lands(page: Page, problems: Problems) -> None:
    path = urlsplit(beam_frame(page).url).path
    problems.step = f"reload {path}"
    beam_frame(page).evaluate("() => location.reload()")
    landed(page, path, problems)


def test_every_link_tab_reload_and_history_step_lands(store, page: Page) -> None:
    problems = Problems(store["url"])
    page.on("response", problems.response)
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    expect(page.frame_locator("iframe.ds-app-frame").locator("h1")).to_contain_text("Beam for")
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
            problems.step = f"deep link {here}"
            beam_frame(page).goto(f"{store['url']}{here}?shop={SHOP}")
            landed(page, here, problems)
        reload_lands(page, problems)
        for href in beam_frame(page).evaluate(LINKS_JS):
            if href in clicked:
                continue
            clicked.add(href)
            if urlsplit(beam_frame(page).url).path != here:
                problems.step = f"back to {here}"
                beam_frame(page).goto(f"{store['url']}{here}?shop={SHOP}")
                landed(page, here, problems)
            problems.step = f"click {href} on {here}"
            link = beam_frame(page).locator(f'a[href="{href}"]:visible').first
            link.click()
            target = urlsplit(href).path
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
        "/admin/branding/",
        "/admin/customers/",
        "/admin/analytics/",
        "/admin/audit/",
    }
    assert expected <= visited, sorted(visited)
    assert len(clicked) >= 13

    # Back and forward through the last steps land each time.
    frame_history = beam_frame(page).evaluate("() => history.length")
    assert frame_history > 2
    for step in ("back", "back", "forward"):
        before = urlsplit(beam_frame(page).url).path
        problems.step = f"history.{step} from {before}"
        beam_frame(page).evaluate(f"() => history.{step}()")
        deadline = time.monotonic() + LAND_TIMEOUT_S
        while urlsplit(beam_frame(page).url).path == before and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        landed(page, urlsplit(beam_frame(page).url).path, problems)

    # A deep link to Analytics with no token, and a reload of the whole store admin.
    problems.step = "deep link analytics"
    beam_frame(page).goto(f"{store['url']}/admin/analytics/?shop={SHOP}&range=90d")
    landed(page, "/admin/analytics/", problems)
    reload_lands(page, problems)
    problems.step = "reload the store admin"
    page.reload()
    expect(page.frame_locator("iframe.ds-app-frame").locator("h1")).to_contain_text("Beam for")
    problems.assert_none()


def _download_csv(page: Page, name: str, problems: Problems) -> list[list[str]]:
    problems.step = f"download {name}"
    app = page.frame_locator("iframe.ds-app-frame")
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
    app = page.frame_locator("iframe.ds-app-frame")
    expect(app.locator("h1")).to_contain_text("Beam for")
    problems.step = "open customers"
    app.locator("nav.beam-nav").get_by_role("link", name="Customers", exact=True).click()
    landed(page, "/admin/customers/", problems)

    members = _download_csv(page, "Export members", problems)
    assert members[0][:2] == ["customer_id", "email"], members[0]
    emails = {row[1] for row in members[1:]}
    assert emails == {"jane@example.com", "john@example.com"}

    ledger = _download_csv(page, "Export ledger", problems)
    assert ledger[0] and len(ledger) == 3, ledger
    assert urlsplit(beam_frame(page).url).path == "/admin/customers/"
    problems.assert_none()
