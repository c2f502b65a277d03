"""The hourly job of the yearly ways to earn: birthdays on the shop's own day (across a time
zone boundary), 29 February, the 12-month rule after a change, the 30-day notice,
anniversaries, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from loyalty import services
from loyalty.models import ActionAward, EarningAction, LedgerEntry, Member, MemberBirthday
from loyalty.services.earning_actions_yearly import earning_actions_yearly_due
from merchants.models import Shop
from tests.loyalty.factories import MemberFactory, ProgramFactory, ShopFactory

pytestmark = pytest.mark.django_db


def shop_in(zone: str, *kinds: str) -> Shop:
    shop = ShopFactory(iana_timezone=zone)
    ProgramFactory(shop=shop)
    for kind in kinds:
        EarningAction.objects.create(
            shop=shop, kind=kind, points=100, limit="year", enabled=True, enabled_at=timezone.now()
        )
    return shop


def born(shop: Shop, month: int, day: int, set_at: datetime | None = None, **kw) -> Member:
    """A member whose birthday was entered at ``set_at`` (default: long before the days the
    tests run the job on, so the 30-day notice is met)."""
    member = MemberFactory(shop=shop, **kw)
    services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=month, day=day)
    set_on(member, set_at or datetime(2024, 1, 1, tzinfo=UTC))
    return member


def set_on(member: Member, moment: datetime) -> None:
    MemberBirthday.objects.filter(member=member).update(updated_at=moment)


def gifts(member: Member) -> list[tuple[int, str]]:
    return list(
        LedgerEntry.objects.filter(member=member, kind="action")
        .order_by("pk")
        .values_list("amount", "note")
    )


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_birthday_comes_on_the_shops_own_day_across_a_time_zone_boundary():
    auckland = shop_in("Pacific/Auckland", "birthday")  # UTC+12 in May
    los_angeles = shop_in("America/Los_Angeles", "birthday")  # UTC-7 in May
    kiwi, angeleno = born(auckland, 5, 1), born(los_angeles, 5, 1)

    # 30 April 13:00 UTC: 1 May 01:00 in Auckland, 30 April 06:00 in Los Angeles
    assert earning_actions_yearly_due(now=at(2026, 4, 30, 13)) == 1
    assert (gifts(kiwi), gifts(angeleno)) == ([(100, "Birthday gift")], [])

    # 1 May 06:59 UTC is still 30 April in Los Angeles; 07:00 is 1 May there
    assert earning_actions_yearly_due(now=at(2026, 5, 1, 6, 59)) == 0
    assert earning_actions_yearly_due(now=at(2026, 5, 1, 7, 0)) == 1
    assert gifts(angeleno) == [(100, "Birthday gift")]

    # the day's later runs give nothing more; Auckland's 2 May neither
    assert earning_actions_yearly_due(now=at(2026, 5, 1, 20)) == 0
    keys = set(ActionAward.objects.values_list("key", flat=True))
    assert keys == {f"birthday:{kiwi.pk}:2026", f"birthday:{angeleno.pk}:2026"}


def test_a_birthday_earns_again_the_next_year():
    shop = shop_in("UTC", "birthday")
    member = born(shop, 5, 1)

    earning_actions_yearly_due(now=at(2026, 5, 1, 3))
    earning_actions_yearly_due(now=at(2027, 5, 1, 3))

    assert len(gifts(member)) == 2


def test_29_february_birthdays_come_on_28_february_in_other_years():
    shop = shop_in("UTC", "birthday")
    leapling, other = born(shop, 2, 29), born(shop, 2, 28)

    assert earning_actions_yearly_due(now=at(2027, 2, 28, 9)) == 2
    assert earning_actions_yearly_due(now=at(2028, 2, 28, 9)) == 1  # only the 28th's
    assert earning_actions_yearly_due(now=at(2028, 2, 29, 9)) == 1
    assert (len(gifts(leapling)), len(gifts(other))) == (2, 2)


def test_a_changed_birthday_cannot_earn_within_12_months_of_the_last_gift():
    shop = shop_in("UTC", "birthday")
    member = born(shop, 5, 1)
    earning_actions_yearly_due(now=at(2026, 5, 1, 3))

    services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=6, day=1)
    set_on(member, at(2026, 5, 1, 12))  # changed the day of the gift, 31 days before
    assert earning_actions_yearly_due(now=at(2026, 6, 1, 3)) == 0
    assert earning_actions_yearly_due(now=at(2027, 6, 1, 3)) == 1
    assert len(gifts(member)) == 2


def test_no_gift_while_the_action_is_off_or_for_a_redacted_member():
    shop = shop_in("UTC", "birthday")
    member, redacted = born(shop, 5, 1), born(shop, 5, 1)
    Member.objects.filter(pk=redacted.pk).update(redacted=True)

    EarningAction.objects.filter(shop=shop).update(enabled=False)
    assert earning_actions_yearly_due(now=at(2026, 5, 1, 3)) == 0
    EarningAction.objects.filter(shop=shop).update(enabled=True)
    assert earning_actions_yearly_due(now=at(2026, 5, 1, 4)) == 1
    assert (len(gifts(member)), gifts(redacted)) == (1, [])


def test_membership_anniversary_yearly_on_the_join_day_in_shop_time():
    shop = shop_in("America/New_York", "anniversary")
    # joined 10 March 2025 02:00 UTC = 9 March 22:00 in New York
    member = MemberFactory(shop=shop)
    Member.objects.filter(pk=member.pk).update(created_at=at(2025, 3, 10, 2))
    newcomer = MemberFactory(shop=shop)  # joined today: no anniversary yet

    assert earning_actions_yearly_due(now=at(2026, 3, 10, 15)) == 0  # 10 March: not the day
    Member.objects.filter(pk=newcomer.pk).update(created_at=at(2026, 3, 9, 15))
    assert earning_actions_yearly_due(now=at(2026, 3, 9, 15)) == 1
    assert earning_actions_yearly_due(now=at(2026, 3, 9, 23)) == 0
    assert gifts(member) == [(100, "Membership anniversary")]
    assert gifts(newcomer) == []
    assert earning_actions_yearly_due(now=at(2027, 3, 9, 15)) == 2


def test_a_birthday_set_less_than_30_days_before_it_falls_earns_from_the_next_year():
    shop = shop_in("America/Los_Angeles", "birthday")  # UTC-8 in December
    # set 6 December 23:00 in Los Angeles (7 December UTC): 30 shop days before 5 January
    early = born(shop, 1, 5, set_at=at(2026, 12, 7, 7))
    # set 7 December 00:30 there: 29 days before
    late = born(shop, 1, 5, set_at=at(2026, 12, 7, 8, 30))

    assert earning_actions_yearly_due(now=at(2027, 1, 5, 20)) == 1
    assert (len(gifts(early)), gifts(late)) == (1, [])
    assert earning_actions_yearly_due(now=at(2028, 1, 5, 20)) == 2
    assert (len(gifts(early)), len(gifts(late))) == (2, 1)


def test_saving_the_same_birthday_again_keeps_the_notice_running():
    shop = shop_in("UTC", "birthday")
    member = born(shop, 5, 1, set_at=at(2026, 3, 1))

    services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=5, day=1)
    services.member_birthday_set(
        shop=shop, customer_id=member.customer_id, month=5, day=1, year=1990
    )
    row = MemberBirthday.objects.get(member=member)
    assert (row.year, row.updated_at) == (1990, at(2026, 3, 1))
    assert earning_actions_yearly_due(now=at(2026, 5, 1, 3)) == 1

    # a different day starts the notice again
    services.member_birthday_set(shop=shop, customer_id=member.customer_id, month=5, day=2)
    assert MemberBirthday.objects.get(member=member).updated_at > at(2026, 3, 1)
