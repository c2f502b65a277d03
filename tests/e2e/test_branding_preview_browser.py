"""Branding's live preview shows the store as a desktop shopper and as a phone shows it: with
"Show on mobile" off, the desktop preview still shows the launcher and the phone preview
hides it, as the store does at each width. The merchant's choice survives a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.admin_nav import beam, beam_frame, go
from tests.e2e.test_admin_browser import SHOP, store  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_store(store: dict[str, Any]) -> dict[str, Any]:  # noqa: F811  (uses the import)
    """The embedded admin's store of tests/e2e/test_admin_browser.py (a shop, three members)."""
    return store


def launcher_shown(page: Page) -> bool:
    button = beam(page).frame_locator("#beam-preview-frame").locator("#beam-root button.l")
    expect(button).to_have_count(1)
    return bool(button.evaluate("b => getComputedStyle(b).display !== 'none'"))


def test_the_preview_shows_the_store_at_desktop_and_phone_widths(
    admin_store: dict[str, Any], page: Page
) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{admin_store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    expect(app.get_by_role("heading", name="Beam for Acme Admin")).to_be_visible()
    go(page, "Branding")
    desktop = app.get_by_role("button", name="Desktop")
    mobile = app.get_by_role("button", name="Mobile")
    expect(desktop).to_have_attribute("aria-pressed", "true")
    preview = beam_frame(page).locator("#beam-preview-frame")
    # The desktop page is wider than the store's 749 px breakpoint, scaled into the column.
    assert preview.evaluate("f => f.contentWindow.innerWidth") >= 1000
    box = preview.bounding_box()
    assert box is not None and box["width"] < 500

    app.locator("#id_show_on_mobile").uncheck()
    # The preview follows the form (its store page is rendered again with the new setting).
    root = app.frame_locator("#beam-preview-frame").locator("#beam-root")
    expect(root).to_have_attribute("data-mobile", "false")
    page.screenshot(path="tests/artifacts/admin-branding-desktop.png")
    assert launcher_shown(page)  # desktop shoppers still see it

    mobile.click()
    expect(mobile).to_have_attribute("aria-pressed", "true")
    expect(desktop).to_have_attribute("aria-pressed", "false")
    assert preview.evaluate("f => f.contentWindow.innerWidth") < 750
    assert not launcher_shown(page)  # hidden on phones, as asked
    page.screenshot(path="tests/artifacts/admin-branding-mobile.png")

    # The choice survives a reload of the page.
    beam_frame(page).evaluate("() => location.reload()")
    expect(app.get_by_role("button", name="Mobile")).to_have_attribute("aria-pressed", "true")
    assert (
        beam_frame(page).locator("#beam-preview-frame").evaluate("f => f.contentWindow.innerWidth")
        < 750
    )
