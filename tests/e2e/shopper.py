"""The shopper on the devstore's storefront: logged in as a customer of the store, and the
rewards panel opened and loaded."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect


def log_in(page: Page, store_url: str, shopper: str) -> None:
    """Open ``store_url`` (a storefront page) and switch to the customer ``shopper``."""
    page.goto(store_url)
    page.get_by_label("Shopping as").select_option(label=shopper)
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_text("Logged in as")).to_be_visible()


def open_panel(page: Page) -> Any:
    """Click the launcher and wait until the panel has loaded."""
    page.locator("#beam-root button.l").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_have_attribute("aria-busy", "false")
    return dialog
