"""The shopper on the devstore's storefront: logged in as a customer of the store, and the
rewards panel opened and loaded."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

# What has the keyboard focus inside the launcher's shadow root.
SHADOW_ACTIVE = """() => {
  const a = document.getElementById('beam-root').shadowRoot.activeElement;
  return a ? {cls: a.className, inDialog: !!a.closest('[role=dialog]'), text: a.textContent,
              label: a.getAttribute('aria-label')} : null;
}"""


def launcher(page: Page) -> Locator:
    """Beam's launcher button (the theme app embed's)."""
    return page.locator("#beam-root button.l")


def dialog(page: Page) -> Locator:
    """The rewards panel the launcher opens."""
    return page.get_by_role("dialog")


def log_in(page: Page, store_url: str, shopper: str) -> None:
    """Open ``store_url`` (a storefront page) and switch to the customer ``shopper``; done
    when the page shows them logged in and Beam's launcher is there."""
    page.goto(store_url)
    page.get_by_label("Shopping as").select_option(label=shopper)
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_text("Logged in as")).to_be_visible()
    expect(launcher(page)).to_be_visible()


def open_panel(page: Page) -> Locator:
    """Click the launcher and wait until the panel is shown and has loaded."""
    launcher(page).click()
    expect(dialog(page)).to_be_visible()
    expect(dialog(page)).to_have_attribute("aria-busy", "false")
    return dialog(page)


def focused(page: Page) -> dict[str, Any] | None:
    """The element of Beam's shadow root with the focus (its class, whether it is in the
    panel, its text and label), or None."""
    found: dict[str, Any] | None = page.evaluate(SHADOW_ACTIVE)
    return found


def tab_to_launcher(page: Page, presses: int) -> None:
    """Press Tab until the launcher has the focus, at most ``presses`` times (a keyboard-only
    shopper must reach it)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        active = focused(page)
        if active and active["cls"].startswith("l"):
            return
    pytest.fail("the launcher is not reachable with Tab")
