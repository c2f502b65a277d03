"""A newcomer's first shop, in Chromium against the live server, with nothing made in the
Django shell: create a shop on /devstore/, open Beam in its admin (the managed install
happens), create a product, sign a customer up, buy the product on the storefront, and see the
points in the rewards panel. The order's webhook goes to Beam over real HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.admin_nav import menu_item
from tests.e2e.shopper import open_panel

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DOMAIN = "first-shop.myshopify.com"


def test_newcomer_creates_a_shop_installs_beam_sells_and_sees_points(
    live_beam_http: str, transactional_db: None, page: Page
) -> None:
    from devstore.models import DevShop
    from merchants.models import Shop

    page.goto(f"{live_beam_http}/devstore/")
    page.get_by_label("Name").fill("First Shop")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Create shop").click()
    expect(page.get_by_text(f"Shop {DOMAIN} created.")).to_be_visible()
    expect(page.get_by_text("Beam is not installed")).to_be_visible()

    # Open Beam in the store admin: the embedded app loads and the install happens.
    page.get_by_role("link", name="Open Beam in this store's admin").click()
    beam = page.frame_locator("iframe.ds-app-frame")
    expect(beam.locator("#beam-main h1")).to_contain_text("Beam for")
    expect(menu_item(page, "Rewards")).to_be_visible()  # the store admin lists Beam's menu
    assert Shop.objects.get(domain=DOMAIN).is_active
    assert DevShop.objects.get(domain=DOMAIN).app_installed_at is not None

    page.get_by_role("link", name="Shop admin").click()
    expect(page.get_by_text("Beam is installed")).to_be_visible()
    page.get_by_label("Title").fill("Desk Lamp")
    page.get_by_label("Price (USD)").fill("42.50")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_text("Product “Desk Lamp” created.")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "devstore-shop-home.png"), full_page=True)

    page.get_by_role("link", name="Customers").click()
    page.get_by_placeholder("email").fill("ada@example.com")
    page.get_by_placeholder("first name").fill("Ada")
    page.get_by_placeholder("last name").fill("Lovelace")
    page.get_by_role("button", name="Add customer").click()

    # Buy it on the storefront as Ada.
    page.get_by_role("link", name="Store", exact=True).click()
    page.get_by_label("Shopping as").select_option(label="Ada Lovelace <ada@example.com>")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_text("Logged in as")).to_be_visible()
    page.locator("li", has_text="Desk Lamp").get_by_role("button", name="Add to cart").click()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text(re.compile(r"Order #\d+ placed: 47\.50\."))).to_be_visible()

    # Her points, in the storefront's rewards panel (1 point per dollar of 42.50).
    page.get_by_role("link", name="Store", exact=True).click()
    panel = open_panel(page)
    expect(panel.locator(".bal")).to_have_text("42 points")
