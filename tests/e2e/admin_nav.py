"""Moving around Beam's embedded admin as a merchant does: the store admin's sidebar lists
Beam's App Bridge menu (one item per section, drawn by the devstore's App Bridge stand-in);
a section with several pages shows them as tabs at the top of its page. ``go`` follows the
menu, then the tab, and waits until the page is ready to be used."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Frame, FrameLocator, Page

# The sidebar's items (below the app's own entry, "Beam", which opens Home).
MENU = (
    "Ways to earn",
    "Rewards",
    "VIP tiers",
    "Referrals",
    "Branding",
    "Customers",
    "Analytics",
    "Settings",
)
# Pages reached by a tab: their section's menu item.
TABS = {
    "Bonus events": "Ways to earn",
    "Points expiry": "Ways to earn",
    "Launcher and panel": "Branding",
    "Landing page": "Branding",
    "Shopper texts": "Branding",
    "Webhook health": "Settings",
    "Audit trail": "Settings",
    "Setup": "Settings",
}
# Every page a merchant reaches from the menu and the tabs.
PAGES = ("Home", *MENU, *TABS)


def beam(page: Page) -> FrameLocator:
    """Beam's frame in the store admin, as a locator (it waits for what it finds)."""
    return page.frame_locator("iframe.ds-app-frame")


def beam_frame(page: Page) -> Frame:
    """Beam's frame in the store admin as it is now (to evaluate scripts or wait in it)."""
    frame = page.locator("iframe.ds-app-frame").element_handle().content_frame()
    assert frame is not None
    return frame


def menu_item(page: Page, label: str) -> Any:
    """Beam's item ``label`` in the store admin's sidebar ("Home" is the app's own entry)."""
    if label == "Home":
        return page.locator("#ds-app-home")
    return page.get_by_role("list", name="Beam").get_by_role("link", name=label, exact=True)


def tab(page: Page, label: str) -> Any:
    return beam(page).locator("nav.beam-tabs").get_by_role("link", name=label, exact=True)


def arm_settle(frame: Frame) -> None:
    """From now, ``window.__beamSettled`` turns true when htmx settles ``#beam-main``."""
    frame.evaluate(
        """() => {
          window.__beamSettled = false;
          const done = e => {
            if (e.detail && e.detail.target && e.detail.target.id === "beam-main") {
              window.__beamSettled = true;
              document.removeEventListener("htmx:afterSettle", done);
            }
          };
          document.addEventListener("htmx:afterSettle", done);
        }"""
    )


def _click_and_settle(page: Page, link: Any, *, document: bool) -> None:
    """Click ``link`` and wait until Beam's page is ready: a document load (Home, Analytics)
    when its navigation is done, an htmx swap when htmx has settled ``#beam-main`` (fields
    are bound only then: a field filled earlier would not search)."""
    frame = beam_frame(page)
    if document:
        with frame.expect_navigation():
            link.click()
        # A document without a token first gets the bounce page, which reloads the address
        # with one: the page is there once its navigation is (the bounce page has none).
        beam(page).locator("#beam-main h1").wait_for()
        beam_frame(page).wait_for_load_state("load")
        return
    arm_settle(frame)
    link.click()
    frame.wait_for_function("() => window.__beamSettled === true")


def go(page: Page, label: str) -> None:
    """Open the admin page ``label`` (a menu item, a tab, or Home) and wait until it is ready."""
    if label in TABS:
        if not tab(page, label).count():
            go(page, TABS[label])
        _click_and_settle(page, tab(page, label), document=False)
        return
    if label not in ("Home", *MENU):
        raise AssertionError(f"no admin page is called {label!r}")
    # Beam loads Home and Analytics as documents and swaps every other page into #beam-main.
    _click_and_settle(page, menu_item(page, label), document=label in ("Home", "Analytics"))
