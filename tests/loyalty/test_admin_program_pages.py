"""What the program's pages show, in the store admin's components: ways to earn with the
program's on/off card, bonus events with their status, points expiry, the reward form and the
setup wizard; each in its section's tabs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import BonusEvent, LoyaltyProgram, Reward
from tests.loyalty.admin_helpers import AdminClient, admin_shop, elements, reads

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return admin_shop()


@pytest.fixture
def client(shop) -> AdminClient:
    return AdminClient(shop, user_id="77")


def words(html: str) -> str:
    """The text of ``html`` as a screen reader reads it: tags dropped, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def h1(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found, "no h1"
    return words(found.group(1))


def tabs(html: str) -> dict[str, bool]:
    """The section tabs: label → whether it is the current page."""
    nav = re.search(r'<nav class="beam-tabs[^"]*"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "no section tabs"
    return {
        label: "aria-current" in attrs
        for attrs, label in re.findall(r"<a ([^>]*)>\s*<span[^>]*>([^<]+)</span>", nav.group(1))
    }


@pytest.mark.parametrize(
    ("url", "heading", "current"),
    [
        ("/admin/earning/", "Ways to earn", "Ways to earn"),
        ("/admin/bonus-events/", "Bonus events", "Bonus events"),
        ("/admin/expiry/", "Points expiry", "Points expiry"),
    ],
)
def test_earning_section_pages_have_a_header_and_the_sections_tabs(
    client, url, heading, current
) -> None:
    html = client.get(url).content.decode()

    assert h1(html) == heading
    assert tabs(html) == {
        "Ways to earn": current == "Ways to earn",
        "Bonus events": current == "Bonus events",
        "Points expiry": current == "Points expiry",
    }


def test_the_wizard_is_in_the_settings_section(client) -> None:
    html = client.get("/admin/welcome/").content.decode()

    assert h1(html) == "Launch your rewards program"
    assert tabs(html) == {"Webhook health": False, "Audit trail": False, "Setup": True}


def test_program_card_shows_its_state_and_offers_the_opposite(shop, client) -> None:
    html = client.get("/admin/earning/").content.decode()
    assert "Program is Success On" in words(html)  # a badge says its tone, as in Polaris
    assert "orders earn no points" not in html
    assert elements(html, name="enabled", value="0", type="hidden")
    assert reads(html, ">Turn off<")

    client.post("/admin/program/toggle", {"enabled": "0"})
    html = client.get("/admin/earning/").content.decode()

    assert LoyaltyProgram.objects.get(shop=shop).enabled is False
    assert "Program is Off : orders earn no points." in words(html)
    assert elements(html, name="enabled", value="1", type="hidden")
    assert reads(html, ">Turn on<")


def test_bonus_events_show_an_empty_state_then_each_events_status(shop, client) -> None:
    empty = client.get("/admin/bonus-events/").content.decode()
    assert "No bonus events yet" in empty
    assert "multiplies the points orders earn" in empty
    assert 'id="beam-bonus-events-table"' not in empty

    now = timezone.now()
    for name, starts, ends in [
        ("Past", now - timedelta(days=9), now - timedelta(days=7)),
        ("Now", now - timedelta(hours=1), now + timedelta(hours=1)),
        ("Later", now + timedelta(days=7), now + timedelta(days=9)),
    ]:
        BonusEvent.objects.create(
            shop=shop, name=name, multiplier=2, starts_at=starts, ends_at=ends
        )
    html = client.get("/admin/bonus-events/").content.decode()

    assert "No bonus events yet" not in html
    table = html.split('id="beam-bonus-events-table"')[1].split("</table>")[0]
    rows = re.findall(r"<tr class=\"Polaris-IndexTable__TableRow[^>]*>(.*?)</tr>", table, re.S)
    shown = [words(row) for row in rows]
    times = "\N{MULTIPLICATION SIGN}2"
    assert [row.split(f" {times} ")[0] for row in shown] == [
        "Later Info Scheduled",
        "Now Success Live",
        "Past Ended",
    ]
    assert len(elements(table, "form", **{"hx-confirm": "Remove this bonus event?"})) == 3


def test_reward_form_goes_back_to_rewards_and_starts_on_the_first_kind(client) -> None:
    html = client.get("/admin/rewards/new").content.decode()

    (back,) = elements(html, "a", **{"aria-label": "Rewards"})
    assert back["href"] == "/admin/rewards/"
    assert h1(html) == "New reward"
    (form,) = elements(html, "form", id="beam-reward-form")
    assert form["data-reward-kind"] == "fixed_amount"
    # The kind's select shows what the browser selects: the first kind, not a blank.
    assert reads(html, 'class="Polaris-Select__SelectedOption">', "Fixed Amount")
    wrapped = set(re.findall(r'data-field="(\w+)"', html))
    assert wrapped == {
        "name",
        "kind",
        "points_cost",
        "value",
        "variant_gid",
        "points_per_unit",
        "value_per_unit",
        "min_points",
        "max_points",
        "minimum_subtotal",
        "code_valid_days",
        "combines_with_order",
        "combines_with_product",
        "combines_with_shipping",
        "active",
    }
    assert reads(html, ">Create reward<")


def test_reward_form_of_a_hidden_reward_says_so(shop, client) -> None:
    reward = Reward.objects.create(
        shop=shop, name="Mug", kind="free_product", points_cost=900, active=False
    )

    html = client.get(f"/admin/rewards/{reward.pk}/").content.decode()

    assert h1(html) == "Mug"
    assert "Mug Hidden" in words(html.split("<h1", 1)[1])
    (form,) = elements(html, "form", id="beam-reward-form")
    assert form["data-reward-kind"] == "free_product"
    assert reads(html, 'class="Polaris-Select__SelectedOption">', "Free Product")
    assert reads(html, ">Save<")


def test_wizard_brand_colour_is_a_colour_picker(client) -> None:
    html = client.get("/admin/welcome/").content.decode()

    (colour,) = elements(html, name="primary_color")
    assert colour["type"] == "color"
    assert "Polaris-TextField__Input" not in (colour.get("class") or "")


def test_wizard_review_lists_each_change_from_before_to_after(client) -> None:
    from tests.loyalty.test_admin_config import WIZARD_DEFAULTS

    html = client.post("/admin/welcome/", WIZARD_DEFAULTS).content.decode()

    review = html.split('id="beam-onboarding-review"')[1]
    items = re.findall(r'<li class="Polaris-List__Item">(.*?)</li>', review, re.S)
    shown = [words(item) for item in items]
    assert shown[:3] == [
        "Launches the program",
        "Welcome points: 0 → 100",
        "Program name: Rewards → Acme Rewards",
    ]
    assert reads(review, ">Back to edit<")
    assert elements(review, "button", name="confirm", value="1", type="submit")
