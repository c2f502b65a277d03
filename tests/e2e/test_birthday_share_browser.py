"""The birthday form and the share sheet, end to end in Chromium against the live server and
the devstore: in the rewards panel (a refused date's reason, the saved birthday after a
reload, the 12-month rule telling when the next gift comes after a change), on the customer
account page (the customer-account extension's stand-in: first gift a year away under the
30-day notice) and the share link (the network's share intent for the store's page opens,
the click awards once, the reload shows it done). Screenshots go to ``tests/artifacts/``
(birthday-*.png)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import shopper
from tests.e2e.shopper import open_panel

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SHOP = "acme-bday.myshopify.com"
ADA = "Ada Lovelace <ada@example.com>"
INTENT = "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Facme-bday.myshopify.com%2F"


def shifted(day: date, days: int) -> date:
    """``day`` + ``days``, never 29 February (whose gift moves in common years)."""
    found = day + timedelta(days=days)
    return found + timedelta(days=1) if (found.month, found.day) == (2, 29) else found


def long_date(day: date) -> str:
    """As the panel writes it (``toLocaleDateString('en', {day, month: long, year})``)."""
    return f"{day:%B} {day.day}, {day.year}"


@pytest.fixture
def store(live_beam_http: str, transactional_db) -> dict[str, Any]:
    """A devstore shop with Beam, the birthday gift (150 points) and the Facebook share (25,
    once) on, and Ada, a member."""
    from django.utils import timezone

    from devstore import services as dev
    from loyalty.models import EarningAction, LoyaltyProgram, Member
    from loyalty.services.earning_actions import shop_today
    from tests.devstore_install import beam_install

    dev_shop = dev.shop_create(SHOP, name="Acme Birthday", currency="USD")
    shop = beam_install(dev_shop, name="Acme Birthday")
    LoyaltyProgram.objects.create(shop=shop, welcome_points=0)
    for kind, network, points in (("birthday", "", 150), ("social_share", "facebook", 25)):
        EarningAction.objects.create(
            shop=shop,
            kind=kind,
            network=network,
            points=points,
            limit="year" if kind == "birthday" else "once",
            enabled=True,
            enabled_at=timezone.now(),
        )
    ada = dev.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    member, _ = Member.objects.get_or_create(shop=shop, customer_id=ada.id)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"shop": shop, "member": member, "url": live_beam_http, "today": shop_today(shop)}


def log_in(page: Page, store: dict[str, Any], path: str = "") -> None:
    shopper.log_in(page, f"{store['url']}/devstore/{SHOP}/{path}", ADA)


def test_panel_birthday_refuses_a_bad_date_keeps_the_saved_one_and_tells_the_12_month_rule(
    store: dict[str, Any], page: Page
) -> None:
    from django.utils import timezone

    from loyalty import services
    from loyalty.models import LedgerEntry, MemberBirthday
    from loyalty.services.earning_actions_yearly import earning_actions_yearly_due

    # Ada's birthday, entered a year ago, was 20 days ago: its gift was given then.
    today, member = store["today"], store["member"]
    was = shifted(today, -20)
    services.member_birthday_set(
        shop=store["shop"], customer_id=member.customer_id, month=was.month, day=was.day
    )
    MemberBirthday.objects.filter(member=member).update(
        updated_at=timezone.now() - timedelta(days=365)
    )
    gift_at = datetime.combine(was, time(12), tzinfo=timezone.get_current_timezone())
    assert earning_actions_yearly_due(now=gift_at) == 1

    log_in(page, store)
    dialog = open_panel(page)
    way = dialog.locator('li[data-way="birthday"]')
    expect(way).to_contain_text(f"Your birthday: {was:%B} {was.day}")
    way.get_by_role("button", name="Change").click()
    form = way.get_by_role("form", name="Your birthday")

    # 30 February: the reason, and nothing changes
    form.get_by_label("Month").select_option(label="February")
    form.get_by_label("Day").fill("30")
    form.get_by_role("button", name="Save birthday").click()
    expect(dialog.get_by_role("status")).to_have_text("Choose a day of the month.")
    saved = MemberBirthday.objects.get(member=member)
    assert (saved.month, saved.day) == (was.month, was.day)

    # a day 40 days ahead: the notice is met, but the last gift was 20 days ago, so the
    # changed birthday's next gift is a year later
    new = shifted(today, 40)
    form.get_by_label("Month").select_option(label=f"{new:%B}")
    form.get_by_label("Day").fill(str(new.day))
    form.get_by_role("button", name="Save birthday").click()
    next_gift = new.replace(year=new.year + 1)
    expect(dialog.get_by_role("status")).to_have_text(
        f"Birthday saved. Your next birthday gift arrives on {long_date(next_gift)}."
    )
    expect(way).to_contain_text(f"Your birthday: {new:%B} {new.day}")
    saved.refresh_from_db()
    assert (saved.month, saved.day, saved.year) == (new.month, new.day, None)
    page.screenshot(path=str(ARTIFACTS / "birthday-panel.png"), animations="disabled")

    page.reload()
    way = open_panel(page).locator('li[data-way="birthday"]')
    expect(way).to_contain_text(f"Your birthday: {new:%B} {new.day}")
    expect(way.get_by_role("button", name="Change")).to_be_visible()
    assert LedgerEntry.objects.filter(member=member, kind="action").count() == 1


def test_account_page_birthday_form_tells_when_the_first_gift_arrives(
    store: dict[str, Any], page: Page
) -> None:
    from loyalty.models import MemberBirthday

    log_in(page, store, "account")
    block = page.locator("#beam-account-extension")
    expect(block).to_contain_text("Tell us your birthday and get points on the day.")
    form = block.get_by_role("form", name="Your birthday")

    form.get_by_label("Month").select_option(label="April")
    form.get_by_label("Day", exact=True).fill("31")
    form.get_by_role("button", name="Save birthday").click()
    expect(block.get_by_role("alert")).to_have_text("That month has no such day.")
    assert not MemberBirthday.objects.exists()

    # 10 days ahead: less than the 30 days' notice, so the first gift is next year's
    soon = shifted(store["today"], 10)
    form = block.get_by_role("form", name="Your birthday")
    form.get_by_label("Month").select_option(label=f"{soon:%B}")
    form.get_by_label("Day", exact=True).fill(str(soon.day))
    form.get_by_label("Year (optional)").fill("1990")
    form.get_by_role("button", name="Save birthday").click()
    expect(block.get_by_role("status")).to_have_text("Birthday saved.")
    expect(block.get_by_role("alert")).to_have_count(0)
    expect(block).not_to_contain_text("null")
    first = soon.replace(year=soon.year + 1)
    gift = f"Your first birthday gift arrives on {long_date(first)}."
    expect(block.locator(".beam-birthday-gift")).to_have_text(gift)
    saved = MemberBirthday.objects.get(member=store["member"])
    assert (saved.month, saved.day, saved.year) == (soon.month, soon.day, 1990)
    page.screenshot(path=str(ARTIFACTS / "birthday-account.png"), animations="disabled")

    page.reload()
    block = page.locator("#beam-account-extension")
    expect(block.locator(".beam-birthday-saved")).to_have_text(
        f"Your birthday: {soon.day} {soon:%B} 1990"
    )
    expect(block.locator(".beam-birthday-gift")).to_have_text(gift)


def test_share_sheet_opens_the_intent_awards_once_and_shows_it_done(
    store: dict[str, Any], page: Page
) -> None:
    from loyalty.models import ActionAward, LedgerEntry

    page.context.route("https://www.facebook.com/**", lambda r: r.fulfill(body="Share on FB"))
    log_in(page, store)
    dialog = open_panel(page)
    share = dialog.locator('li[data-way="social_share:facebook"]')
    expect(share).to_contain_text("Share us on Facebook")
    expect(share).to_contain_text("We can\u2019t check this")
    link = share.get_by_role("link", name="Share: Share us on Facebook")
    expect(link).to_have_attribute("href", INTENT)

    with page.expect_popup() as popup:
        link.click()
    assert popup.value.url == INTENT
    popup.value.close()
    expect(dialog.get_by_role("status")).to_have_text("You earned 25 points!")
    expect(share).to_contain_text("✓ Done")
    expect(share.get_by_role("link")).to_have_count(0)
    expect(dialog.locator(".bal")).to_have_text("25 points")
    page.screenshot(path=str(ARTIFACTS / "birthday-share.png"), animations="disabled")

    page.reload()
    dialog = open_panel(page)
    expect(dialog.locator('li[data-way="social_share:facebook"]')).to_contain_text("✓ Done")
    expect(dialog.locator(".hist")).to_contain_text("Shared us on Facebook")
    entries = LedgerEntry.objects.filter(member=store["member"])
    assert list(entries.values_list("kind", "amount")) == [("action", 25)]
    assert ActionAward.objects.count() == 1
