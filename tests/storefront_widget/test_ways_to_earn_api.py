"""The ways to earn through the signed app proxy: the birthday form, social clicks (replays
award once), the program document's entries and ``me``'s done list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import ActionAward, EarningAction, LedgerEntry, MemberBirthday
from tests.storefront_widget.conftest import signed_query

pytestmark = pytest.mark.django_db


@pytest.fixture
def follow(shop):
    return EarningAction.objects.create(
        shop=shop,
        kind="social_follow",
        network="instagram",
        points=25,
        enabled=True,
        enabled_at=timezone.now(),
        url="https://www.instagram.com/demo",
    )


def test_the_shopper_saves_a_birthday_and_me_shows_it(proxy, program, member):
    response = proxy.post("api/birthday", {"month": 5, "day": 1})

    assert response.status_code == 200
    assert response.json() == {
        "birthday": {"month": 5, "day": 1, "year": None},
        "offered": False,  # the birthday way to earn is off: no gift day to tell
        "gift_on": None,
        "first_gift": True,
    }
    me = proxy.get("api/me").json()["member"]
    assert me["birthday"] == {"month": 5, "day": 1, "year": None}
    assert me["done"] == ["signup", "birthday"]


@pytest.mark.parametrize(("days", "years_later"), [(45, 0), (29, 1)])
def test_the_panel_is_told_when_the_first_gift_arrives_30_days_notice(
    proxy, shop, program, member, days, years_later
):
    EarningAction.objects.create(
        shop=shop,
        kind="birthday",
        points=100,
        limit="year",
        enabled=True,
        enabled_at=timezone.now(),
    )
    day = timezone.now().date() + timedelta(days=days)  # the test shop's zone is UTC
    if (day.month, day.day) == (2, 29):
        day += timedelta(days=1)

    response = proxy.post("api/birthday", {"month": day.month, "day": day.day})

    assert response.json()["offered"] is True
    assert response.json()["gift_on"] == day.replace(year=day.year + years_later).isoformat()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"month": 2, "day": 30}, "Choose a day of the month."),
        ({"month": 2, "day": 29, "year": 2023}, "2023 had no 29 February."),
        ({"month": 4, "day": 31}, "That month has no such day."),
    ],
)
def test_an_impossible_birthday_is_a_400_with_the_reason(proxy, program, member, body, message):
    response = proxy.post("api/birthday", body)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    assert not MemberBirthday.objects.exists()


def test_birthday_input_shape_is_checked(proxy, program, member):
    response = proxy.post("api/birthday", {"month": "may", "day": 1})
    assert response.status_code == 400
    assert "month" in response.json()["error"]["fields"]


def test_a_guest_cannot_save_a_birthday_and_a_bad_signature_is_refused(
    proxy, client, shop, program, member
):
    assert proxy.post("api/birthday", {"month": 5, "day": 1}, customer=None).status_code == 401
    query = signed_query(shop.domain, member.customer_id, secret="wrong")
    response = client.post(
        f"/proxy/api/birthday?{query}", data={"month": 5, "day": 1}, content_type="application/json"
    )
    assert response.status_code == 401
    assert not MemberBirthday.objects.exists()


def test_a_follow_click_awards_once_however_often_it_is_sent(proxy, program, member, follow):
    body = {"kind": "social_follow", "network": "instagram"}

    first = proxy.post("api/actions/click", body)
    again = proxy.post("api/actions/click", body)

    assert (first.status_code, first.json()) == (201, {"status": "awarded", "points": 25})
    assert (again.status_code, again.json()) == (200, {"status": "already", "points": 25})
    assert list(LedgerEntry.objects.values_list("kind", "amount", "note")) == [
        ("action", 25, "Followed us on Instagram")
    ]
    assert ActionAward.objects.get().key == f"social_follow:instagram:{member.pk}"
    me = proxy.get("api/me").json()
    assert me["member"]["done"] == ["signup", "social_follow:instagram"]
    assert me["member"]["balance"] == 25
    assert me["history"]["entries"][0]["label"] == "Followed us on Instagram"


def test_a_click_on_an_action_that_is_off_or_unknown_is_a_404(proxy, program, member, follow):
    follow.enabled = False
    follow.save()

    off = proxy.post("api/actions/click", {"kind": "social_follow", "network": "instagram"})
    unknown = proxy.post("api/actions/click", {"kind": "social_follow", "network": "myspace"})
    bad = proxy.post("api/actions/click", {"kind": "birthday", "network": "instagram"})

    assert (off.status_code, off.json()["error"]["code"]) == (404, "action_not_available")
    assert unknown.status_code == 404
    assert bad.status_code == 400
    assert not LedgerEntry.objects.exists()


def test_a_click_before_the_member_exists_says_so(proxy, program, follow):
    response = proxy.post("api/actions/click", {"kind": "social_follow", "network": "instagram"})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "member_not_found")


def test_the_program_document_lists_the_actions_that_are_on(proxy, shop, program, follow):
    EarningAction.objects.create(shop=shop, kind="birthday", points=100, limit="year")  # off
    EarningAction.objects.create(
        shop=shop,
        kind="social_share",
        network="x",
        points=10,
        enabled=True,
        texts={"fr": {"title": "Partagez Beam"}},
    )

    earning = proxy.get("api/program").json()["earning"]

    assert [e["key"] for e in earning] == [
        "order",
        "signup",
        "social_follow:instagram",
        "social_share:x",
    ]
    follow_doc, share_doc = earning[2], earning[3]
    assert follow_doc["title"] == "Follow us on Instagram"
    assert follow_doc["url"] == "https://www.instagram.com/demo"
    assert follow_doc["verified"] is False
    assert follow_doc["points"] == 25
    assert share_doc["url"] == f"https://x.com/intent/post?url=https%3A%2F%2F{shop.domain}%2F"
    assert share_doc["texts"]["fr"]["title"] == "Partagez Beam"


def test_the_landing_page_lists_the_actions_in_its_language(proxy, shop, program, follow):
    program.branding = {**program.branding, "languages": ["en", "fr"]}
    program.save()
    follow.texts = {"fr": {"title": "Suivez Beam sur Instagram"}}
    follow.save()

    english = proxy.get("").content.decode()
    french = proxy.get("", locale="fr").content.decode()

    assert 'data-way="social_follow:instagram"' in english
    assert "Follow us on Instagram" in english and "25 points" in english
    assert "Suivez Beam sur Instagram" in french
