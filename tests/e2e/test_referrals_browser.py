"""Referrals end to end in Chromium against the live server and the devstore: the advocate's
share sheet in the panel (the link copied, the email and share links), the friend following
the copied link in another browser (the panel opens on the offer, an email gets the one-time
code, a reload keeps it), and the merchant's Referrals page (a settings change the panel
shows, a blocked referral unblocked and listed as completed). Screenshots go to
``tests/artifacts/`` (referrals-*.png)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import shopper
from tests.e2e.admin_nav import beam, go
from tests.e2e.shopper import open_panel

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOP = "acme-refer.myshopify.com"
ADA = "Ada Lovelace <ada@example.com>"


@pytest.fixture
def store(live_beam_http: str, transactional_db) -> dict[str, Any]:
    """A devstore shop with Beam, referrals on (10 USD off a first order over 30, 500 points
    to the advocate) and Ada, a member."""
    from devstore import services as dev
    from loyalty.models import LoyaltyProgram, Member, ReferralSettings
    from tests.devstore_install import beam_install

    dev_shop = dev.shop_create(SHOP, name="Acme Refer", currency="USD")
    shop = beam_install(dev_shop, name="Acme Refer")
    LoyaltyProgram.objects.create(shop=shop, welcome_points=0)
    ReferralSettings.objects.create(
        shop=shop, enabled=True, offer_value=Decimal("10"), offer_minimum=Decimal("30")
    )
    ada = dev.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    member, _ = Member.objects.update_or_create(
        shop=shop, customer_id=ada.id, defaults={"email": ada.email, "first_name": "Ada"}
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"shop": shop, "member": member, "url": live_beam_http}


def log_in(page: Page, store: dict[str, Any]) -> None:
    shopper.log_in(page, f"{store['url']}/devstore/{SHOP}/", ADA)


def test_advocate_shares_and_the_friend_gets_a_code_that_a_reload_keeps(
    store: dict[str, Any], page: Page, browser: Browser
) -> None:
    from loyalty.models import Referral

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, store)
    card = open_panel(page).locator('[data-ref="advocate"]')
    expect(card).to_contain_text("Give friends $10.00 off your first order and get 500 points")
    link = card.get_by_role("textbox", name="Your referral link").input_value()
    code = store["member"].referral_code.code
    assert link == f"{store['url']}/devstore/{SHOP}/apps/beam/r/{code}"
    card.get_by_role("button", name="Copy Your referral link").click()
    expect(card.get_by_role("button", name="Copy Your referral link")).to_have_text("Copied!")
    assert page.evaluate("navigator.clipboard.readText()") == link
    mail = card.get_by_role("link", name="Email").get_attribute("href") or ""
    assert mail.startswith("mailto:?subject=A%20gift%20for%20you%20from%20Acme%20Refer&body=")
    body = quote(f"Here is $10.00 off your first order at Acme Refer: {link}", safe="")
    assert mail.endswith(body)
    share = "https://www.facebook.com/sharer/sharer.php?u=" + quote(link, safe="")
    expect(card.get_by_role("link", name="Share on Facebook")).to_have_attribute("href", share)
    expect(card).to_contain_text("Pending: 0 · Completed: 0 · Blocked: 0 · Cancelled: 0")
    page.screenshot(path=str(ARTIFACTS / "referrals-share.png"), animations="disabled")

    # the friend, in another browser, follows the link: the panel opens on the offer
    friend = browser.new_context().new_page()
    friend.goto(link)
    assert f"/devstore/{SHOP}/?beam_ref={code}" in friend.url
    dialog = friend.get_by_role("dialog")
    offer = dialog.locator('[data-ref="friend"]')
    expect(offer).to_contain_text("Ada sent you a gift")
    expect(offer).to_contain_text("$10.00 off your first order")
    expect(offer).to_contain_text("Orders over $30.00")
    offer.get_by_label("Your email").fill("ada@example.com")
    offer.get_by_role("button", name="Get my code").click()
    expect(dialog.get_by_role("status")).to_have_text("This offer cannot be given to this email.")
    offer.get_by_label("Your email").fill("grace@example.com")
    offer.get_by_role("button", name="Get my code").click()
    friend_code = offer.locator("code")
    expect(friend_code).to_have_text(re.compile(r"^FRIEND-"))
    assert friend_code.inner_text() == Referral.objects.get(friend_email="grace@example.com").code
    expect(offer).to_contain_text("For your first order only.")
    friend.screenshot(path=str(ARTIFACTS / "referrals-friend.png"), animations="disabled")

    friend.reload()
    expect(friend.get_by_role("dialog").locator('[data-ref="friend"] code')).to_have_text(
        friend_code.inner_text()
    )
    assert Referral.objects.filter(friend_email="grace@example.com").count() == 1


def test_merchant_edits_the_offer_and_unblocks_a_referral(
    store: dict[str, Any], page: Page
) -> None:
    from django.utils import timezone

    from loyalty.models import LedgerEntry, Referral

    shop, ada = store["shop"], store["member"]
    blocked = Referral.objects.create(
        shop=shop,
        advocate=ada,
        friend_email="bo@example.com",
        friend_key="bo@example.com",
        status="blocked",
        reason="ip_volume",
        order_id=501,
        order_name="#1501",
        order_total=Decimal("60.00"),
        currency="USD",
        reward_due_at=timezone.now(),
    )
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{store['url']}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    expect(app.get_by_role("heading", name="Beam for Acme Refer")).to_be_visible()
    go(page, "Referrals")

    form = app.locator("#beam-referral-settings form")
    form.get_by_label("Friend's discount", exact=True).select_option(label="Percent off")
    form.get_by_label("Discount (amount in the shop's currency, or percent)").fill("20")
    form.get_by_role("button", name="Save").click()
    expect(app.locator("#beam-saved")).to_contain_text("Referral settings saved.")

    row = app.locator(f'tr[data-referral="{blocked.pk}"]')
    app.get_by_role("link", name="Blocked (1)").click()
    expect(row).to_contain_text("Too many referrals from one IP address in a week")
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Unblock").click()
    expect(app.get_by_role("link", name="Blocked (0)")).to_be_visible()
    app.get_by_role("link", name="Completed (1)").click()
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("500 points to the advocate")
    page.screenshot(path=str(ARTIFACTS / "referrals-admin.png"), animations="disabled")
    assert list(LedgerEntry.objects.filter(member=ada).values_list("kind", "amount")) == [
        ("referral", 500)
    ]

    log_in(page, store)
    card = open_panel(page).locator('[data-ref="advocate"]')
    expect(card).to_contain_text("Give friends 20% off your first order")
    expect(card).to_contain_text("Completed: 1")
