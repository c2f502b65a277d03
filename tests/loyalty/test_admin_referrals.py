"""The admin's Referrals page through HTTP with signed session tokens: the settings saved
(audited) and refused with the field's reason (422, nothing written), the figures, the list
by status with search, pagination and empty states, blocked rows with their reason in words,
unblock (the advocate rewarded once) and cancel, and a cross-site form refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from loyalty.models import AuditEvent, LedgerEntry, Member, Referral, ReferralSettings, Reward
from loyalty.models_referrals import ReferralCode
from tests.loyalty.admin_helpers import AdminClient, admin_shop
from tests.loyalty.factories import ProgramFactory
from tests.loyalty.page_reading import read_page
from tests.merchants.embedded_helpers import session_token

pytestmark = pytest.mark.django_db
URL = "/admin/referrals/"
SETTINGS = {
    "enabled": "on",
    "offer_kind": "percent",
    "offer_value": "15",
    "offer_minimum": "40.00",
    "first_order_only": "on",
    "code_valid_days": "14",
    "reward_kind": "points",
    "reward_points": "300",
    "reward_id": "",
    "cap_count": "3",
    "cap_period": "month",
}


@pytest.fixture
def shop() -> Any:
    shop = admin_shop()
    ProgramFactory(shop=shop)
    return shop


@pytest.fixture
def client(shop: Any) -> AdminClient:
    return AdminClient(shop)


@pytest.fixture
def ada(shop: Any) -> Member:
    member = Member.objects.create(
        shop=shop, customer_id=1, email="ada@example.com", first_name="Ada", last_name="L"
    )
    ReferralCode.objects.create(shop=shop, member=member, code="ADA2345")
    return member


def referral(shop: Any, advocate: Member, email: str, **fields: Any) -> Referral:
    return Referral.objects.create(
        shop=shop, advocate=advocate, friend_email=email, friend_key=email, **fields
    )


def settings_row(shop: Any) -> dict[str, Any] | None:
    return ReferralSettings.objects.filter(shop=shop).values().first()


def test_settings_are_saved_audited_and_shown(shop, client) -> None:
    response = client.post(URL, SETTINGS)

    assert response.status_code == 200
    assert "Referral settings saved" in response["HX-Trigger"]
    row = ReferralSettings.objects.get(shop=shop)
    assert (row.enabled, row.offer_kind, row.offer_value, row.offer_minimum) == (
        True,
        "percent",
        Decimal("15.00"),
        Decimal("40.00"),
    )
    assert (row.code_valid_days, row.reward_points, row.cap_count) == (14, 300, 3)
    event = AuditEvent.objects.get(shop=shop, action="referrals.settings")
    assert event.actor == "42" and event.changes["offer_kind"] == ["amount", "percent"]
    page = read_page(client.get(URL).content.decode())
    assert page.find("input", name="offer_value").attrs["value"] == "15.00"
    assert page.find("input", name="enabled").has("checked", True)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"offer_value": "150"}, "offer_value", "A percentage is at most 100."),
        ({"offer_value": "0"}, "offer_value", "Ensure this value is greater than or equal to"),
        ({"offer_value": "ten"}, "offer_value", "Enter a number."),
        ({"reward_points": "0"}, "reward_points", "Give the advocate some points."),
        ({"reward_kind": "reward"}, "reward_id", "Choose a reward of your catalogue."),
        ({"code_valid_days": "0"}, "code_valid_days", "greater than or equal to 1"),
        ({"cap_period": "week"}, "cap_period", "Select a valid choice."),
    ],
)
def test_refused_settings_say_why_and_write_nothing(shop, client, change, field, message) -> None:
    response = client.post(URL, {**SETTINGS, **change})

    assert response.status_code == 422
    page = read_page(response.content.decode())
    assert message in page.find(data_field=field).text()
    assert settings_row(shop) is None
    assert not AuditEvent.objects.filter(shop=shop).exists()


def test_another_shops_reward_cannot_be_the_advocates_reward(shop, client) -> None:
    other = admin_shop("other.myshopify.com")
    theirs = Reward.objects.create(
        shop=other, name="Theirs", kind="fixed_amount", points_cost=1, value=5
    )
    response = client.post(URL, {**SETTINGS, "reward_kind": "reward", "reward_id": theirs.pk})

    assert response.status_code == 422
    assert settings_row(shop) is None


def test_an_advocates_revenue_in_two_currencies_is_never_added_up(shop, client, ada) -> None:
    for n, (total, currency) in enumerate(((Decimal("80.00"), "USD"), (Decimal("50.00"), "EUR"))):
        referral(
            shop,
            ada,
            f"friend{n}@example.com",
            status="completed",
            order_id=20 + n,
            order_total=total,
            currency=currency,
            rewarded_at=timezone.now(),
            reward_points=500,
        )

    page = read_page(client.get(URL).content.decode())

    top = page.find(id="beam-referral-figures").find(data_kpi="top_advocates").text()
    assert "Ada L · 2 rewarded referrals" in top
    assert "€50.00" in top and "$80.00" in top and "130" not in top


def test_a_catalogue_reward_is_saved_for_the_advocate(shop, client) -> None:
    ours = Reward.objects.create(
        shop=shop, name="Tote", kind="fixed_amount", points_cost=1, value=5
    )
    response = client.post(URL, {**SETTINGS, "reward_kind": "reward", "reward_id": ours.pk})

    assert response.status_code == 200
    assert ReferralSettings.objects.get(shop=shop).reward_id == ours.pk


def test_figures_list_tabs_and_the_blocked_reason_in_words(shop, client, ada) -> None:
    now = timezone.now()
    referral(shop, ada, "bob@example.com", code="FRIEND-AAAA-BBBB", code_status="issued")
    referral(
        shop,
        ada,
        "cy@example.com",
        code="FRIEND-CCCC-DDDD",
        status="completed",
        order_id=9,
        order_name="#1009",
        order_total=Decimal("80.00"),
        currency="USD",
        rewarded_at=now,
        reward_points=500,
    )
    referral(
        shop,
        ada,
        "ada1@example.com",
        status="blocked",
        reason="similar_email",
        reason_detail="ada@example.com",
    )

    page = read_page(client.get(URL).content.decode())

    figures = page.find(id="beam-referral-figures")
    assert "$80.00" in figures.find(data_kpi="referred_revenue").text()
    conversion = figures.find(data_kpi="conversion").text()
    assert "50.0%" in conversion and "2 claimed codes → 1 paid order" in conversion
    assert "Ada L · 1 rewarded referral · $80.00" in figures.find(data_kpi="top_advocates").text()
    tabs = [a.text() for a in page.find(id="beam-referrals").find("nav").find_all("a")]
    assert tabs == ["Pending (1)", "Completed (1)", "Blocked (1)", "Cancelled (0)"]
    rows = page.find(id="beam-referrals-table").find("tbody").find_all("tr")
    assert [r.find("td").text() for r in rows] == ["bob@example.com FRIEND-AAAA-BBBB"]

    blocked = read_page(client.get(URL + "?status=blocked").content.decode())
    row = blocked.find(id="beam-referrals-table").find("tbody").find("tr")
    assert "The friend's email is the advocate's, or very like it (ada@example.com)" in row.text()
    assert [b.text() for b in row.find_all("button")] == ["Unblock", "Cancel"]


def test_search_by_email_or_code_pagination_and_empty_states(shop, client, ada) -> None:
    for n in range(27):
        referral(shop, ada, f"f{n:02}@example.com")

    first = read_page(client.get(URL).content.decode())
    assert len(first.find(id="beam-referrals-table").find("tbody").find_all("tr")) == 25
    assert "Page 1 of 2" in first.find(id="beam-referrals").text()
    second = client.client.get(
        URL + "?status=pending&page=2", headers={**client.headers(), "HX-Target": "beam-referrals"}
    )
    body = read_page(second.content.decode())
    assert body.find_all(id="beam-main") == []  # the list alone
    assert len(body.find(id="beam-referrals-table").find("tbody").find_all("tr")) == 2

    found = read_page(client.get(URL + "?q=F07@example").content.decode())
    emails = [r.find("td").text() for r in found.find(id="beam-referrals-table").find_all("tr")[1:]]
    assert emails == ["f07@example.com"]
    by_code = read_page(client.get(URL + "?q=ada2345").content.decode())
    assert "Page 1 of 2" in by_code.find(id="beam-referrals").text()

    none = read_page(client.get(URL + "?q=nobody").content.decode())
    assert "No referrals match your search" in none.find(id="beam-referrals-none-match").text()
    empty = read_page(client.get(URL + "?status=cancelled").content.decode())
    assert "No referral was cancelled." in empty.find(id="beam-referrals-none").text()


def test_unblock_rewards_the_advocate_once_and_cancel_closes(shop, client, ada) -> None:
    blocked = referral(
        shop,
        ada,
        "bo@example.com",
        code="FRIEND-AAAA-CCCC",
        status="blocked",
        reason="ip_volume",
        order_id=77,
        order_name="#1077",
        order_total=Decimal("50.00"),
        currency="USD",
        reward_due_at=timezone.now(),
    )
    ReferralSettings.objects.create(shop=shop, enabled=True, reward_points=250)

    response = client.post(f"{URL}{blocked.pk}/unblock?status=blocked")

    assert response.status_code == 200 and "Referral unblocked" in response["HX-Trigger"]
    blocked.refresh_from_db()
    assert (blocked.status, blocked.reward_points) == ("completed", 250)
    assert list(LedgerEntry.objects.filter(member=ada).values_list("kind", "amount")) == [
        ("referral", 250)
    ]
    again = client.post(f"{URL}{blocked.pk}/unblock")
    assert again.status_code == 409
    assert "Only a blocked referral can be unblocked." in again.content.decode()
    assert LedgerEntry.objects.filter(member=ada).count() == 1
    cancel_done = client.post(f"{URL}{blocked.pk}/cancel")
    assert cancel_done.status_code == 409
    assert "A completed referral cannot be cancelled." in cancel_done.content.decode()

    open_one = referral(shop, ada, "cy@example.com")
    assert client.post(f"{URL}{open_one.pk}/cancel").status_code == 200
    open_one.refresh_from_db()
    assert (open_one.status, open_one.reason) == ("cancelled", "merchant")
    actions = AuditEvent.objects.filter(shop=shop).values_list("action", flat=True)
    assert sorted(actions) == ["referral.cancel", "referral.unblock"]
    assert client.post(f"{URL}999999/cancel").status_code == 404


def test_a_cross_site_form_without_the_session_token_header_is_refused(shop, ada) -> None:
    blocked = referral(shop, ada, "bo@example.com", status="blocked", reason="ip_volume")
    browser = Client(enforce_csrf_checks=True)

    forged = browser.post(f"{URL}{blocked.pk}/cancel?id_token={session_token(shop.domain)}")
    settings = browser.post(f"{URL}?id_token={session_token(shop.domain)}", SETTINGS)

    assert (forged.status_code, settings.status_code) == (401, 401)
    blocked.refresh_from_db()
    assert blocked.status == "blocked"
    assert settings_row(shop) is None
