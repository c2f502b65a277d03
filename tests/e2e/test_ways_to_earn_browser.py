"""Ways to earn beyond orders, end to end in Chromium against the live server and the
devstore: the merchant turns the birthday gift on in the admin's Ways to earn page (Beam in
the store admin's frame); the shopper, logged in on the storefront, finds it in the rewards
panel, enters a birthday and sees it saved; then follows the store on Instagram from the
panel (the profile opens in a new tab) and sees the points. Screenshots go to
``tests/artifacts/`` (ways-to-earn-*.png)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import shopper
from tests.e2e.admin_nav import beam, beam_frame, go
from tests.e2e.axe import serious_violations

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOP = "acme-earn.myshopify.com"
ADA = "Ada Lovelace <ada@example.com>"
PROFILE = "https://www.instagram.com/acme"


@pytest.fixture
def store(live_beam_http: str, transactional_db) -> dict[str, Any]:
    """A devstore shop with Beam installed, a program, the Instagram follow on (25 points)
    and Ada, a customer of the store and so a member."""
    from django.utils import timezone

    from devstore import services as dev
    from loyalty.models import EarningAction, LoyaltyProgram, Member
    from tests.devstore_install import beam_install

    dev_shop = dev.shop_create(SHOP, name="Acme Earn", currency="USD")
    shop = beam_install(dev_shop, name="Acme Earn")
    LoyaltyProgram.objects.create(shop=shop, welcome_points=0)
    EarningAction.objects.create(
        shop=shop,
        kind="social_follow",
        network="instagram",
        points=25,
        enabled=True,
        enabled_at=timezone.now(),
        url=PROFILE,
    )
    ada = dev.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    member, _ = Member.objects.get_or_create(shop=shop, customer_id=ada.id)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"shop": shop, "member": member, "url": live_beam_http}


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"ways-to-earn-{name}.png"), animations="disabled")


def test_merchant_turns_on_birthdays_and_the_shopper_enters_one_and_follows(
    store: dict[str, Any], page: Page
) -> None:
    from loyalty.models import AuditEvent, EarningAction, LedgerEntry, MemberBirthday

    page.set_viewport_size({"width": 1400, "height": 1000})
    # The merchant: Ways to earn → Birthday on, 150 points.
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    expect(app.get_by_role("heading", name="Beam for Acme Earn")).to_be_visible()
    go(page, "Ways to earn")
    birthday = app.locator("#beam-action-birthday")
    expect(birthday.get_by_role("heading", name="Celebrate your birthday")).to_be_visible()
    birthday.get_by_label("On", exact=True).check()
    birthday.get_by_label("Points").fill("150")
    birthday.get_by_role("button", name="Save: Celebrate your birthday").click()
    expect(app.locator("#beam-action-birthday .Polaris-Badge")).to_contain_text("On")
    action = EarningAction.objects.get(shop=store["shop"], kind="birthday")
    assert (action.enabled, action.points) == (True, 150)
    assert AuditEvent.objects.filter(action="earning_action.update").count() == 1
    shot(page, "admin")
    assert serious_violations(beam_frame(page)) == []

    # The shopper: the panel lists the birthday with its points and the follow.
    page.context.route(PROFILE, lambda route: route.fulfill(body="Acme on Instagram"))
    shopper.log_in(page, f"{store['url']}/devstore/{SHOP}/", ADA)
    dialog = shopper.open_panel(page)
    way = dialog.locator('li[data-way="birthday"]')
    expect(way).to_contain_text("Celebrate your birthday")
    expect(way).to_contain_text("150 points")

    form = way.get_by_role("form", name="Your birthday")
    form.get_by_label("Month").select_option(label="July")
    form.get_by_label("Day").fill("14")
    form.get_by_role("button", name="Save birthday").click()
    expect(way).to_contain_text("Your birthday: July 14")
    expect(dialog.get_by_role("status")).to_have_text(
        re.compile(r"^Birthday saved\. Your first birthday gift arrives on July 14, 20\d\d\.$")
    )
    expect(way).to_contain_text("✓ Done")
    saved = MemberBirthday.objects.get(member=store["member"])
    assert (saved.month, saved.day, saved.year) == (7, 14, None)

    follow = dialog.locator('li[data-way="social_follow:instagram"]')
    expect(follow).to_contain_text(
        "We can\u2019t check this: points are given when you open the link."
    )
    with page.expect_popup() as popup:
        follow.get_by_role("link", name="Follow: Follow us on Instagram").click()
    assert popup.value.url == PROFILE
    popup.value.close()
    expect(dialog.get_by_role("status")).to_have_text("You earned 25 points!")
    expect(dialog.locator(".bal")).to_have_text("25 points")
    expect(follow).to_contain_text("✓ Done")
    expect(dialog.locator(".hist")).to_contain_text("Followed us on Instagram")
    entries = LedgerEntry.objects.filter(member=store["member"])
    assert list(entries.values_list("kind", "amount")) == [("action", 25)]
    shot(page, "panel")
    assert serious_violations(page) == []
