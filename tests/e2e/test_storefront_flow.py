"""The whole storefront journey in Chromium against a live Beam: the devstore's storefront
renders the theme app embed with the real assets, the devstore's app proxy signs and forwards
to the real storefront API, the devstore checkout takes the code and its webhook credits
points back in Beam."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.e2e import shopper
from tests.e2e.axe import contrast_undecided, serious_violations
from tests.e2e.shopper import dialog, focused, launcher, open_panel, tab_to_launcher

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DOMAIN = "flow-store.myshopify.com"


@pytest.fixture
def store(transactional_db: None, settings) -> Iterator[dict[str, Any]]:
    """A devstore shop with Beam installed, a program, two rewards and a member with 1,200
    points; webhooks are delivered to Beam for real (after commit)."""
    from devstore import services as dev
    from loyalty import services as loyalty
    from loyalty.models import LoyaltyProgram, Member, Reward
    from tests.devstore_install import beam_install

    dev_shop = dev.shop_create(DOMAIN, name="Flow Store", currency="EUR")
    shop = beam_install(dev_shop, name="Flow Store")
    LoyaltyProgram.objects.create(
        shop=shop, welcome_points=0, branding={"panel_title": "Flow Rewards"}
    )
    Reward.objects.create(
        shop=shop, name="€5 off", kind="fixed_amount", points_cost=500, value=Decimal("5.00")
    )
    Reward.objects.create(
        shop=shop, name="€20 off", kind="fixed_amount", points_cost=2000, value=Decimal("20.00")
    )
    ada = dev.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    lamp = dev.product_create(dev_shop, "Desk Lamp", Decimal("49.00")).variants.get()
    # the devstore's customers/create webhook already made Ada a member
    member, _ = Member.objects.get_or_create(shop=shop, customer_id=ada.id)
    loyalty.points_adjust(
        shop=shop,
        member=member,
        amount=1200,
        reason="Welcome gift",
        actor="test",
        idempotency_key="flow-welcome",
    )
    yield {"dev_shop": dev_shop, "shop": shop, "ada": ada, "lamp": lamp, "member": member}


def base(live_server) -> str:
    return f"{live_server.url}/devstore/{DOMAIN}"


def test_guest_sees_the_invitation(page: Page, live_server, store) -> None:
    page.goto(base(live_server) + "/")

    open_panel(page)

    d = dialog(page)
    expect(d.get_by_role("heading", name="Join our rewards program")).to_be_visible()
    expect(d.get_by_role("link", name="Join now")).to_have_attribute(
        "href", f"/devstore/{DOMAIN}/account"
    )
    expect(d.get_by_text("Place an order")).to_be_visible()
    expect(d.get_by_text("€5 off")).to_be_visible()
    expect(d.get_by_role("button", name=re.compile("^Redeem"))).to_have_count(0)


def test_shopper_redeems_applies_the_code_orders_and_sees_the_history(
    page: Page, live_server, store
) -> None:
    from devstore.models import DevOrder
    from loyalty.models import Member, Redemption

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base(live_server) + f"/products/{store['lamp'].id}")
    expect(page.get_by_text("Earn 49 points with this purchase")).to_be_visible()
    page.get_by_role("button", name="Add to cart").click()
    shopper.log_in(page, base(live_server) + "/", "Ada Lovelace <ada@example.com>")

    open_panel(page)
    d = dialog(page)
    expect(d.get_by_role("heading", name="Flow Rewards")).to_be_visible()
    expect(d.locator(".bal")).to_have_text("1,200 points")
    expect(d.get_by_text("800 more points needed")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "storefront-panel-open.png"), animations="disabled")

    d.get_by_role("button", name="Redeem: €5 off").click()
    d.get_by_role("button", name="Confirm: €5 off").click()

    code = d.locator(".code.new code")
    expect(code).to_have_text(re.compile(r"^BEAM-[A-Z2-9]{4}-[A-Z2-9]{4}$"))
    the_code = code.inner_text()
    expect(d.locator(".bal")).to_have_text("700 points")
    expect(page.locator("#beam-root .live")).to_have_text(f"Your reward is ready: {the_code}")
    page.screenshot(path=str(ARTIFACTS / "storefront-panel-redeemed.png"), animations="disabled")
    redemption = Redemption.objects.get()
    assert (redemption.code, redemption.status, redemption.points_spent) == (
        the_code,
        "issued",
        500,
    )

    d.get_by_role("link", name="Apply to cart").click()

    expect(page).to_have_url(f"{base(live_server)}/cart")
    expect(page.get_by_label("Discount code")).to_have_value(the_code)
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text(re.compile(r"Order #\d+ placed: 49\.00"))).to_be_visible()
    order = DevOrder.objects.get()
    assert order.discount_code.code == the_code and order.customer_id == store["ada"].id

    page.goto(base(live_server) + "/")
    open_panel(page)
    d = dialog(page)
    expect(d.locator(".bal")).to_have_text("744 points")  # 700 + 44 earned on the order
    first = d.locator(".hist li").first
    expect(first).to_contain_text(f"Order {order.payload['name']}")
    expect(first.locator("b")).to_have_text("+44")
    expect(d.locator(".hist li").nth(1)).to_contain_text("Redeemed €5 off")
    expect(d.locator(".code")).to_have_count(0)  # the code was used: no longer offered
    assert Member.objects.get(pk=store["member"].pk).balance == 744
    redemption.refresh_from_db()
    assert redemption.status == "used"


def test_keyboard_only_walk_through(page: Page, live_server, store) -> None:
    shopper.log_in(page, base(live_server) + "/", "Ada Lovelace <ada@example.com>")
    tab_to_launcher(page, 40)

    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_visible()
    expect(dialog(page)).to_have_attribute("aria-busy", "false")
    expect(dialog(page).locator(".bal")).to_have_text("1,200 points")
    assert focused(page)["inDialog"]
    for _ in range(25):  # Tab never leaves the dialog
        page.keyboard.press("Tab")
        assert focused(page)["inDialog"]
    for _ in range(30):
        active = focused(page)
        if active["label"] == "Redeem: €5 off":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the Redeem button is not reachable with Tab")

    page.keyboard.press("Enter")  # Redeem asks; the focus moves to its Confirm
    assert focused(page)["label"] == "Confirm: €5 off"
    page.keyboard.press("Enter")

    expect(dialog(page).locator(".bal")).to_have_text("700 points")
    active = focused(page)
    assert active["inDialog"] and active["label"].startswith("Copy BEAM-")
    page.keyboard.press("Escape")
    expect(dialog(page)).to_be_hidden()
    assert focused(page)["cls"].startswith("l")
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")


def test_account_page_block_opens_the_panel(page: Page, live_server, store) -> None:
    shopper.log_in(page, base(live_server) + "/account", "Ada Lovelace <ada@example.com>")

    # the member's real balance, read the way the panel reads it
    expect(page.get_by_text("You have 1,200 points")).to_be_visible()
    expect(page.get_by_text("You have 0 points")).to_have_count(0)
    page.get_by_role("link", name="View your rewards").click()

    expect(dialog(page)).to_be_visible()
    expect(dialog(page).locator(".bal")).to_have_text("1,200 points")


def test_landing_page_renders_without_javascript(browser, live_server, store) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()

    page.goto(base(live_server) + "/apps/beam/")

    expect(page).to_have_title("Rewards · Flow Store")
    expect(page.get_by_role("heading", name="Welcome to Rewards")).to_be_visible()
    expect(page.get_by_role("heading", name="Ways to earn")).to_be_visible()
    expect(page.get_by_text("€20 off")).to_be_visible()
    hero = page.locator(".bl-hero")
    assert hero.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(79, 70, 229)"
    context.close()
    assert settings.SHOPIFY_APP_URL == "http://beam.test"  # proxied in-process


CONTRAST = """e => {
  const rgb = s => s.match(/[0-9.]+/g).slice(0, 3).map(Number);
  const lum = c => {
    const [r, g, b] = c.map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const style = getComputedStyle(e);
  const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))];
  return {color: style.color, background: style.backgroundColor,
          ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
}"""


@pytest.mark.parametrize("brand", ["#4f46e5", "#e11d48", "#111827"])
def test_landing_join_button_is_readable_at_the_bare_proxy_root(
    browser, live_server, store, brand
) -> None:
    from loyalty.models import LoyaltyProgram
    from storefront_widget.selectors import program_cache_invalidate

    program = LoyaltyProgram.objects.get(shop=store["shop"])
    program.branding = {**program.branding, "primary_color": brand}
    program.save()
    program_cache_invalidate(shop_id=store["shop"].pk)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()

    response = page.goto(base(live_server) + "/apps/beam")  # the platform forwards it bare

    assert response is not None and response.status == 200
    assert page.url.endswith("/apps/beam")  # no redirect to a path the store lacks
    join = page.locator(".bl-hero").get_by_role("link", name="Join now")
    expect(join).to_be_visible()
    seen = join.evaluate(CONTRAST)
    assert seen["color"] != seen["background"]
    assert seen["ratio"] >= 4.5, seen  # WCAG AA for its text
    expect(page.locator(".bl-hero")).to_contain_text("Already a member? Log in")
    context.close()


def test_landing_greets_a_logged_in_member_with_their_balance(
    page: Page, live_server, store
) -> None:
    shopper.log_in(page, base(live_server) + "/", "Ada Lovelace <ada@example.com>")

    page.goto(base(live_server) + "/apps/beam/")

    hero = page.locator(".bl-hero")
    expect(hero.locator(".bl-balance")).to_have_text("Your balance: 1,200 points")
    expect(page.get_by_role("link", name="Join now")).to_have_count(0)
    expect(page.get_by_text("Already a member?")).to_have_count(0)
    expect(hero.get_by_role("link", name="Start shopping")).to_be_visible()


def test_product_page_shows_the_points_the_earning_rule_gives(
    page: Page, live_server, store
) -> None:
    from devstore import services as dev
    from loyalty.models import LoyaltyProgram

    LoyaltyProgram.objects.filter(shop=store["shop"]).update(points_per_currency_unit=2)
    jacket = dev.product_create(store["dev_shop"], "Jacket", Decimal("129.00")).variants.get()

    page.goto(f"{base(live_server)}/products/{jacket.id}")

    line = page.locator(".beam-product-points")
    expect(line).to_have_text("Earn 258 points with this purchase")  # 2 per unit x 129
    expect(line).to_be_visible()

    # the checkout promises the same figure for the same product
    page.get_by_role("button", name="Add to cart").click()
    block = page.locator("#beam-checkout-extension")
    expect(block.locator("[data-role=guest]")).to_have_text(
        "Log in to earn 258 points with this order."
    )


def test_product_page_shows_a_gold_member_their_own_points(page: Page, live_server, store) -> None:
    from devstore import services as dev
    from loyalty.models import LoyaltyProgram, Member
    from tests.loyalty.tier_helpers import tiers_setup

    LoyaltyProgram.objects.filter(shop=store["shop"]).update(points_per_currency_unit=2)
    gold = tiers_setup(store["shop"], (("Silver", "100", "1.25", 0), ("Gold", "900", "1.5", 0)))
    Member.objects.filter(pk=store["member"].pk).update(
        tier=gold["Gold"], tier_multiplier=gold["Gold"].multiplier
    )
    jacket = dev.product_create(store["dev_shop"], "Jacket", Decimal("129.00")).variants.get()
    product_url = f"{base(live_server)}/products/{jacket.id}"
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/product_points" in r.url else None)

    page.goto(product_url)
    expect(page.locator(".beam-product-points")).to_have_text("Earn 258 points with this purchase")
    shopper.log_in(page, base(live_server) + "/", "Ada Lovelace <ada@example.com>")
    page.goto(product_url)

    line = page.locator(".beam-product-points")
    expect(line).to_have_text("Earn 387 points with this purchase")  # 258 x 1.5 (Gold)
    assert len(asked) == 2 and "member=1" not in asked[0] and "member=1" in asked[1]

    # the checkout promises the member the same figure
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#beam-checkout-extension [data-role=balance]")).to_contain_text(
        "this order earns 387 points"
    )


def test_apply_to_cart_on_an_empty_cart_says_the_code_is_saved(
    page: Page, live_server, store
) -> None:
    shopper.log_in(page, base(live_server) + "/", "Ada Lovelace <ada@example.com>")
    open_panel(page)
    d = dialog(page)
    d.get_by_role("button", name="Redeem: €5 off").click()
    d.get_by_role("button", name="Confirm: €5 off").click()
    the_code = d.locator(".code.new code")
    expect(the_code).to_have_text(re.compile(r"^BEAM-"))
    code = the_code.inner_text()

    d.get_by_role("link", name="Apply to cart").click()

    expect(page.locator("#beam-root .live")).to_have_text(
        f"Your cart is empty. Code {code} is saved and applies at checkout."
    )
    assert page.url == base(live_server) + "/"  # still shopping, not on an empty cart
    page.goto(base(live_server) + f"/products/{store['lamp'].id}")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_label("Discount code")).to_have_value(code)


class SurfaceResults(dict[str, list[str]]):
    """axe's serious/critical violations per surface; recording one saves its screenshot."""

    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page

    def __setitem__(self, surface: str, violations: list[str]) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = "shopper-" + re.sub(r"[^a-z0-9]+", "-", surface.lower()).strip("-")
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")
        super().__setitem__(surface, violations)


def test_every_shopper_surface_has_no_serious_accessibility_violation(
    page: Page, live_server: Any, store: dict[str, Any]
) -> None:
    """axe on every shopper surface; each is also saved as a screenshot for a reviewer."""
    root = base(live_server)
    found = SurfaceResults(page)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(root + "/")
        open_panel(page)
        found[f"panel guest {width}"] = serious_violations(page)
        page.goto(root + "/apps/beam")
        found[f"landing guest {width}"] = serious_violations(page)
        assert contrast_undecided(page) == []  # the Join button's contrast is decidable
    page.set_viewport_size({"width": 1280, "height": 900})
    shopper.log_in(page, root + "/", "Ada Lovelace <ada@example.com>")
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(root + "/")
        open_panel(page)
        expect(dialog(page).locator(".bal")).to_have_text("1,200 points")
        found[f"panel member {width}"] = serious_violations(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(root + "/apps/beam")
    found["landing member"] = serious_violations(page)
    assert contrast_undecided(page) == []
    page.goto(root + f"/products/{store['lamp'].id}")
    expect(page.get_by_text("Earn 49 points with this purchase")).to_be_visible()
    found["product block"] = serious_violations(page)
    page.goto(root + "/account")
    expect(page.get_by_text("You have 1,200 points")).to_be_visible()
    found["account block"] = serious_violations(page)
    page.goto(root + f"/products/{store['lamp'].id}")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("button", name="Place order")).to_be_visible()
    found["checkout"] = serious_violations(page)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(f"{root}/checkout/thank-you/*")
    found["thank-you"] = serious_violations(page)

    assert {surface: v for surface, v in found.items() if v} == {}
