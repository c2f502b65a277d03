"""Checkout with Beam's extension, in a real Chromium against the live server: the devstore's
checkout renders the stand-in of the checkout extension (the extension's own client module,
a platform-like session token, the same /ext/ calls), the buyer picks a reward, the code is
applied, the order is placed, its signed webhook credits points, and the thank-you block shows
them — equal to what the checkout promised."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devstore import services as store
from loyalty.models import LoyaltyOrder, Member, Redemption
from loyalty.services import points_adjust, product_tags_record
from tests.loyalty.factories import BonusEventFactory, ProgramFactory, RewardFactory
from tests.storefront_widget.extension_helpers import devstore_with_beam

ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"
DOMAIN = "checkout-flow.myshopify.com"


@pytest.fixture
def store_setup(transactional_db):
    dev_shop, shop = devstore_with_beam(DOMAIN)
    ProgramFactory(shop=shop, points_per_currency_unit=Decimal("1"))
    mug = store.product_create(dev_shop, "Mug", Decimal("18.00"), tags=["bonus"])
    store.product_create(dev_shop, "Tee", Decimal("25.00"))
    product_tags_record(shop=shop, product_id=mug.id, tags=["bonus"])
    BonusEventFactory(shop=shop, multiplier=Decimal("2"), product_tags=["bonus"])
    ada = store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    member = Member.objects.get(shop=shop, customer_id=ada.id)
    points_adjust(
        shop=shop, member=member, amount=800, reason="welcome", actor="test", idempotency_key="s"
    )
    reward = RewardFactory(shop=shop, name="$5 off", points_cost=500, value=Decimal("5.00"))
    RewardFactory(shop=shop, name="$50 off", points_cost=5000, value=Decimal("50.00"))
    return {"dev_shop": dev_shop, "shop": shop, "ada": ada, "member": member, "reward": reward}


def _shop_as_ada(page: Page, base: str, ada_id: int) -> None:
    page.goto(f"{base}/")
    page.select_option("select[name=customer_id]", str(ada_id))
    page.get_by_role("button", name="Switch").click()
    for title in ("Mug", "Tee"):
        page.locator("li", has_text=title).get_by_role("button", name="Add to cart").click()
        page.goto(f"{base}/")


def test_checkout_redeem_apply_order_and_thank_you_points(
    live_server, store_setup, page: Page
) -> None:
    ada, member, shop = store_setup["ada"], store_setup["member"], store_setup["shop"]
    base = f"{live_server.url}/devstore/{DOMAIN}"
    _shop_as_ada(page, base, ada.id)

    # Open checkout: balance, the points this cart earns, the affordable rewards.
    page.goto(f"{base}/cart")
    block = page.locator("#beam-checkout-extension")
    expect(block.locator("[data-role=balance]")).to_have_text(
        "You have 800 points · this order earns 61 points"  # 18 x2 + 25
    )
    options = block.locator("select[data-role=rewards] option")
    expect(options).to_have_text(["Choose a reward", "$5 off (500 points)"])

    # Pick one, then redeem it: redeemed through Beam, applied, the estimate follows.
    block.locator("select[data-role=rewards]").select_option(str(store_setup["reward"].pk))
    block.get_by_role("button", name="Redeem for 500 points").click()
    applied = block.locator("[data-role=applied]")
    expect(applied).to_contain_text("Reward applied: BEAM-", timeout=30000)
    code = applied.inner_text().split(": ", 1)[1].split()[0]  # then the Remove button
    expect(page.locator("input[name=discount_code]")).to_have_value(code)
    # $5 spread over 18/43 and 25/43: mug 15.91 x2 + tee 22.09 = 53.91 → 53
    expect(block.locator("[data-role=balance]")).to_have_text(
        "You have 300 points · this order earns 53 points"
    )
    promised = 53
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "checkout_extension.png"), full_page=True)

    # Place the order: the devstore's signed orders/paid webhook credits the points.
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(f"{base}/checkout/thank-you/*")
    thank_you = page.locator("#beam-thank-you-extension")
    expect(thank_you.locator("[data-role=order-points]")).to_have_text(
        f"You earned {promised} points with this order."
    )
    expect(thank_you.locator("[data-role=balance]")).to_have_text(
        f"Your balance: {300 + promised} points"
    )
    page.screenshot(path=str(ARTIFACTS / "checkout_thank_you.png"), full_page=True)

    order = LoyaltyOrder.objects.get(shop=shop, member=member)
    assert order.points_earned == promised
    assert order.discount_codes == [code]
    redemption = Redemption.objects.get(member=member)
    assert redemption.status == Redemption.Status.USED
    assert redemption.channel == Redemption.Channel.CHECKOUT
    member.refresh_from_db()
    assert member.balance == 300 + promised


def test_refused_code_gives_the_points_back(live_server, store_setup, page: Page) -> None:
    """A reward whose minimum the cart does not reach: the checkout refuses the code, the
    block says so and the points are back at once."""
    shop, ada, member = store_setup["shop"], store_setup["ada"], store_setup["member"]
    RewardFactory.create(
        shop=shop, name="VIP $10", points_cost=100, value=Decimal("10"), minimum_subtotal=500
    )
    base = f"{live_server.url}/devstore/{DOMAIN}"
    _shop_as_ada(page, base, ada.id)
    page.goto(f"{base}/cart")
    block = page.locator("#beam-checkout-extension")
    select = block.locator("select[data-role=rewards]")
    expect(select.locator("option")).to_have_count(3)
    vip = RewardFactory._meta.model.objects.get(shop=shop, name="VIP $10")
    select.select_option(str(vip.pk))
    block.get_by_role("button", name="Redeem for 100 points").click()
    expect(block.locator("[data-role=notice]")).to_have_text(
        "This reward can't be used on this order, so your 100 points were returned.",
        timeout=30000,
    )
    expect(block.locator("[data-role=balance]")).to_contain_text("You have 800 points")
    member.refresh_from_db()
    assert member.balance == 800
    assert Redemption.objects.get(member=member).status == Redemption.Status.CANCELLED


def test_choosing_a_reward_spends_nothing_until_redeem_is_pressed(
    live_server, store_setup, page: Page
) -> None:
    """One ArrowDown on the select used to redeem the first reward at once."""
    ada, member = store_setup["ada"], store_setup["member"]
    base = f"{live_server.url}/devstore/{DOMAIN}"
    _shop_as_ada(page, base, ada.id)
    page.goto(f"{base}/cart")
    block = page.locator("#beam-checkout-extension")
    select = block.locator("select[data-role=rewards]")
    expect(select).to_be_visible()

    select.focus()
    page.keyboard.press("ArrowDown")

    button = block.get_by_role("button", name="Redeem for 500 points")
    expect(button).to_be_visible()
    page.wait_for_timeout(1000)  # anything the change might have started has had its time
    assert not Redemption.objects.filter(member=member).exists()
    member.refresh_from_db()
    assert member.balance == 800
    expect(block.locator("[data-role=balance]")).to_contain_text("You have 800 points")
    expect(page.locator("input[name=discount_code]")).to_have_value("")


def test_removing_the_reward_code_gives_the_points_back_at_once(
    live_server, store_setup, page: Page
) -> None:
    dev_shop, ada, member = store_setup["dev_shop"], store_setup["ada"], store_setup["member"]
    base = f"{live_server.url}/devstore/{DOMAIN}"
    _shop_as_ada(page, base, ada.id)
    page.goto(f"{base}/cart")
    block = page.locator("#beam-checkout-extension")
    block.locator("select[data-role=rewards]").select_option(str(store_setup["reward"].pk))
    block.get_by_role("button", name="Redeem for 500 points").click()
    applied = block.locator("[data-role=applied]")
    expect(applied).to_contain_text("Reward applied: BEAM-", timeout=30000)
    expect(block.locator("[data-role=balance]")).to_contain_text("You have 300 points")
    code = Redemption.objects.get(member=member).code

    block.get_by_role("button", name=f"Remove discount code {code}").click()

    expect(block.locator("[data-role=info]")).to_have_text(
        "Reward removed: your 500 points are back.", timeout=30000
    )
    expect(block.locator("[data-role=balance]")).to_contain_text("You have 800 points")
    expect(page.locator("input[name=discount_code]")).to_have_value("")
    expect(block.get_by_role("option", name="$5 off (500 points)")).to_be_attached()
    member.refresh_from_db()
    assert member.balance == 800
    assert Redemption.objects.get(member=member).status == Redemption.Status.CANCELLED
    from devstore.models import DevDiscountCode

    assert (
        DevDiscountCode.objects.get(shop=dev_shop, code_key=code).status
        == DevDiscountCode.Status.DEACTIVATED
    )
