"""The customer-account birthday form's API (/ext/customer/birthday), signed with extension
session tokens like the platform's: the saved birthday and the day its first gift comes (the
30-day notice), the same service as the panel, bad dates refused with the reason and nothing
written, the token's customer only, shops apart, rate limits, and redaction."""

from __future__ import annotations

import time
from datetime import date, timedelta

import jwt
import pytest
from django.utils import timezone

from devstore import services as store
from loyalty import services
from loyalty.models import ActionAward, EarningAction, Member, MemberBirthday
from loyalty.services.earning_actions_yearly import earning_actions_yearly_due
from tests.loyalty.factories import ProgramFactory
from tests.storefront_widget.extension_helpers import bearer, devstore_with_beam, ext_post

pytestmark = pytest.mark.django_db

PATH = "/ext/customer/birthday"


@pytest.fixture
def shop(settings):
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, shop = devstore_with_beam()
    ProgramFactory(shop=shop)
    shop.dev_shop = dev_shop
    return shop


@pytest.fixture
def action(shop):
    return EarningAction.objects.create(
        shop=shop,
        kind="birthday",
        points=150,
        limit="year",
        enabled=True,
        enabled_at=timezone.now(),
    )


@pytest.fixture
def member(shop, django_capture_on_commit_callbacks) -> Member:
    with django_capture_on_commit_callbacks(execute=True):
        ada = store.customer_create(shop.dev_shop, "ada@example.com", "Ada", "Lovelace")
    return Member.objects.get(shop=shop, customer_id=ada.id)


def today() -> date:
    return timezone.now().date()  # the devstore shop's zone is UTC


def ahead(days: int) -> date:
    """A birthday ``days`` from today (never 29 February, whose gift moves in common years)."""
    day = today() + timedelta(days=days)
    return day + timedelta(days=1) if (day.month, day.day) == (2, 29) else day


def test_the_customer_saves_a_birthday_and_is_told_when_the_first_gift_arrives(
    client, shop, action, member
):
    headers = bearer(shop.domain, member.customer_id)
    before = client.get(PATH, headers=headers)
    assert before.status_code == 200
    assert before.json() == {
        "birthday": None,
        "offered": True,
        "gift_on": None,
        "first_gift": True,
    }

    soon = ahead(60)
    response = ext_post(
        client, "customer/birthday", {"month": soon.month, "day": soon.day}, headers
    )

    assert response.status_code == 200
    assert response.json() == {
        "birthday": {"month": soon.month, "day": soon.day, "year": None},
        "offered": True,
        "gift_on": soon.isoformat(),
        "first_gift": True,
    }
    assert response["Access-Control-Allow-Origin"] == "*"
    assert client.get(PATH, headers=headers).json() == response.json()
    row = MemberBirthday.objects.get(member=member)
    assert (row.shop_id, row.month, row.day, row.year) == (shop.pk, soon.month, soon.day, None)


def test_a_birthday_less_than_30_days_away_earns_from_the_next_year(client, shop, action, member):
    close = ahead(10)
    body = {"month": close.month, "day": close.day, "year": 1990}

    response = ext_post(client, "customer/birthday", body, bearer(shop.domain, member.customer_id))

    assert response.status_code == 200
    assert response.json()["gift_on"] == close.replace(year=close.year + 1).isoformat()
    assert response.json()["birthday"]["year"] == 1990


def test_after_a_gift_the_next_one_is_a_year_later(client, shop, action, member):
    day = today() if (today().month, today().day) != (2, 29) else today() - timedelta(days=1)
    services.member_birthday_set(
        shop=shop, customer_id=member.customer_id, month=day.month, day=day.day
    )
    MemberBirthday.objects.filter(member=member).update(
        updated_at=timezone.now() - timedelta(days=90)
    )
    earning_actions_yearly_due(now=timezone.now().replace(day=day.day, month=day.month))
    assert ActionAward.objects.filter(member=member).count() == 1

    body = client.get(PATH, headers=bearer(shop.domain, member.customer_id)).json()

    assert body["first_gift"] is False
    assert body["gift_on"] == day.replace(year=day.year + 1).isoformat()


def test_no_gift_day_while_the_birthday_way_to_earn_is_off(client, shop, action, member):
    action.enabled = False
    action.save()
    headers = bearer(shop.domain, member.customer_id)

    response = ext_post(client, "customer/birthday", {"month": 7, "day": 14}, headers)

    assert response.json() == {
        "birthday": {"month": 7, "day": 14, "year": None},
        "offered": False,
        "gift_on": None,
        "first_gift": True,
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"month": 2, "day": 30}, "birthday", "Choose a day of the month."),
        ({"month": 4, "day": 31}, "birthday", "That month has no such day."),
        ({"month": 2, "day": 29, "year": 2023}, "birthday", "2023 had no 29 February."),
        ({"month": 5, "day": 1, "year": 9999}, "birthday", None),
        ({"month": 13, "day": 1}, "month", None),
        ({"month": "may", "day": 1}, "month", None),
        ({"month": 5}, "day", None),
        ({"month": 5, "day": 1, "customer_id": 42}, "customer_id", None),
    ],
)
def test_a_bad_birthday_is_a_400_with_the_reason_and_nothing_is_written(
    client, shop, action, member, body, field, message
):
    services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=7, day=14)
    saved = MemberBirthday.objects.get(member=member)

    response = ext_post(client, "customer/birthday", body, bearer(shop.domain, member.customer_id))

    assert response.status_code == 400
    error = response.json()["error"]
    if field == "birthday":  # the date itself: the rule's reason
        year = today().year
        assert error["code"] == "invalid_birthday"
        assert error["message"] == (message or f"Give a year between {year - 120} and {year}.")
    else:  # the shape
        assert field in error["fields"]
    after = MemberBirthday.objects.get(member=member)
    assert (after.month, after.day, after.year, after.updated_at) == (7, 14, None, saved.updated_at)


def test_guests_and_bad_tokens_are_refused(client, shop, action, member, settings):
    guest = ext_post(client, "customer/birthday", {"month": 5, "day": 1}, bearer(shop.domain, None))
    assert guest.status_code == 401
    assert guest.json()["error"]["code"] == "customer_login_required"
    assert client.get(PATH, headers=bearer(shop.domain, None)).status_code == 401
    forged = jwt.encode(
        {
            "dest": shop.domain,
            "aud": settings.SHOPIFY_API_KEY,
            "sub": f"gid://shopify/Customer/{member.customer_id}",
            "exp": int(time.time()) + 60,
        },
        "not-the-secret",
        algorithm="HS256",
    )
    response = ext_post(
        client, "customer/birthday", {"month": 5, "day": 1}, {"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401
    assert "signature" in response.json()["error"]["message"]
    expired = bearer(shop.domain, member.customer_id, exp=int(time.time()) - 60)
    assert client.get(PATH, headers=expired).status_code == 401
    assert not MemberBirthday.objects.exists()


def test_a_customer_without_a_membership_is_told_so(client, shop, action):
    response = ext_post(
        client, "customer/birthday", {"month": 5, "day": 1}, bearer(shop.domain, 4242)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "member_not_found"
    assert client.get(PATH, headers=bearer(shop.domain, 4242)).json()["birthday"] is None


def test_shops_are_apart(client, shop, action, member):
    _other_dev, other = devstore_with_beam("other-ext.myshopify.com")
    ProgramFactory(shop=other)
    twin = Member.objects.create(shop=other, customer_id=member.customer_id)
    services.member_birthday_set(shop=other, customer_id=twin.customer_id, month=1, day=2)

    headers = bearer(shop.domain, member.customer_id)
    assert client.get(PATH, headers=headers).json()["birthday"] is None
    ext_post(client, "customer/birthday", {"month": 7, "day": 14}, headers)

    theirs = MemberBirthday.objects.get(member=twin)
    assert (theirs.month, theirs.day) == (1, 2)
    assert client.get(PATH, headers=bearer(other.domain, twin.customer_id)).json()["birthday"] == {
        "month": 1,
        "day": 2,
        "year": None,
    }


def test_writes_are_rate_limited_per_customer(client, shop, action, member, settings):
    settings.STOREFRONT_RATE_LIMITS = {"ext_write": (2, 3600)}
    headers = bearer(shop.domain, member.customer_id)
    codes = [
        ext_post(client, "customer/birthday", {"month": 7, "day": d}, headers).status_code
        for d in (14, 15, 16)
    ]
    assert codes == [200, 200, 429]
    assert MemberBirthday.objects.get(member=member).day == 15
    assert client.get(PATH, headers=headers).status_code == 200  # reads keep their own limit


def test_redaction_removes_the_birthday_and_a_redacted_member_cannot_set_one(
    client, shop, action, member
):
    headers = bearer(shop.domain, member.customer_id)
    ext_post(client, "customer/birthday", {"month": 7, "day": 14, "year": 1990}, headers)
    exported = services.customer_data_export(shop=shop, customer_id=member.customer_id, email=None)
    assert exported["member"]["birthday"] == {"month": 7, "day": 14, "year": 1990}

    services.customer_redact(shop=shop, customer_id=member.customer_id, email=None)

    assert client.get(PATH, headers=headers).json()["birthday"] is None
    again = ext_post(client, "customer/birthday", {"month": 7, "day": 14}, headers)
    assert again.status_code == 404
    assert not MemberBirthday.objects.exists()


def test_reading_the_birthday_takes_a_fixed_number_of_queries(
    client, shop, action, member, django_assert_num_queries
):
    services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=7, day=14)
    headers = bearer(shop.domain, member.customer_id)
    client.get(PATH, headers=headers)  # warm the shop cache

    # the shop (token auth), the birthday row, the action, the member's last gift
    with django_assert_num_queries(4):
        assert client.get(PATH, headers=headers).status_code == 200
