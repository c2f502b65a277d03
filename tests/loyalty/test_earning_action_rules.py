"""The pure rules of the ways to earn: limits, periods, birthdays (29 February, the 12-month
rule), anniversaries, links and texts."""

from __future__ import annotations

from datetime import date

import pytest

from loyalty.rules import earning_actions as rules

LONG_AGO = date(2020, 1, 1)  # a birthday set long before: the notice is met


@pytest.mark.parametrize(
    ("limit", "period"),
    [("once", ""), ("day", "2026-05-01"), ("month", "2026-05"), ("year", "2026")],
)
def test_period_key_counts_the_limit(limit: str, period: str) -> None:
    assert rules.period_key(limit, date(2026, 5, 1)) == period


def test_limit_once_is_reached_by_any_award_and_a_period_only_by_its_own() -> None:
    assert rules.limit_reached("once", "", []) is False
    assert rules.limit_reached("once", "", [""]) is True
    assert rules.limit_reached("day", "2026-05-02", ["2026-05-01"]) is False
    assert rules.limit_reached("day", "2026-05-01", ["2026-05-01"]) is True


def test_29_february_is_celebrated_on_28_february_in_other_years() -> None:
    assert rules.yearly_days(date(2027, 2, 28)) == [(2, 28), (2, 29)]
    assert rules.yearly_days(date(2028, 2, 28)) == [(2, 28)]
    assert rules.yearly_days(date(2028, 2, 29)) == [(2, 29)]
    assert rules.birthday_due(
        month=2, day=29, today=date(2027, 2, 28), set_on=LONG_AGO, last_gift_for=None
    ) == (date(2027, 2, 28))
    assert (
        rules.birthday_due(
            month=2, day=29, today=date(2028, 2, 28), set_on=LONG_AGO, last_gift_for=None
        )
        is None
    )
    assert rules.birthday_due(
        month=2, day=29, today=date(2028, 2, 29), set_on=LONG_AGO, last_gift_for=None
    ) == (date(2028, 2, 29))


def test_a_birthday_is_due_on_its_day_every_year() -> None:
    assert rules.birthday_due(
        month=5, day=1, today=date(2026, 5, 1), set_on=LONG_AGO, last_gift_for=None
    ) == (date(2026, 5, 1))
    assert (
        rules.birthday_due(
            month=5, day=1, today=date(2026, 5, 2), set_on=LONG_AGO, last_gift_for=None
        )
        is None
    )
    # a year after the last gift, to the day
    last = date(2025, 5, 1)
    assert rules.birthday_due(
        month=5, day=1, today=date(2026, 5, 1), set_on=LONG_AGO, last_gift_for=last
    )
    # 29 February's gifts a year apart: 28 Feb 2027, then 29 Feb 2028
    assert rules.birthday_due(
        month=2, day=29, today=date(2028, 2, 29), set_on=LONG_AGO, last_gift_for=date(2027, 2, 28)
    )


def test_a_changed_birthday_does_not_earn_again_within_12_months() -> None:
    gift = date(2026, 5, 1)
    assert (
        rules.birthday_due(
            month=6, day=1, today=date(2026, 6, 1), set_on=LONG_AGO, last_gift_for=gift
        )
        is None
    )
    assert (
        rules.birthday_due(
            month=3, day=1, today=date(2027, 3, 1), set_on=LONG_AGO, last_gift_for=gift
        )
        is None
    )
    assert rules.birthday_due(
        month=6, day=1, today=date(2027, 6, 1), set_on=LONG_AGO, last_gift_for=gift
    ) == (date(2027, 6, 1))


# --- the 30-day notice ---------------------------------------------------------------------


def due(month: int, day: int, today: date, set_on: date, last: date | None = None) -> bool:
    found = rules.birthday_due(month=month, day=day, today=today, set_on=set_on, last_gift_for=last)
    return found is not None


@pytest.mark.parametrize(
    ("set_on", "earns"),
    [
        (date(2026, 6, 1), True),  # 30 days before: enough notice
        (date(2026, 6, 2), False),  # 29 days before
        (date(2026, 7, 1), False),  # the day itself
        (date(2026, 7, 2), False),  # after it (a job running late sees it set later)
        (date(2025, 7, 1), True),  # a year before
    ],
)
def test_a_birthday_set_less_than_30_days_before_it_falls_does_not_earn(
    set_on: date, earns: bool
) -> None:
    assert due(7, 1, date(2026, 7, 1), set_on) is earns


def test_the_notice_counts_across_the_year_end() -> None:
    # set 20 December, birthday 5 January: 16 days, so not the coming one but the next
    assert due(1, 5, date(2027, 1, 5), set_on=date(2026, 12, 20)) is False
    assert due(1, 5, date(2028, 1, 5), set_on=date(2026, 12, 20)) is True
    # set 6 December: 30 days to 5 January
    assert due(1, 5, date(2027, 1, 5), set_on=date(2026, 12, 6)) is True
    assert due(1, 5, date(2027, 1, 5), set_on=date(2026, 12, 7)) is False


def test_the_notice_for_29_february_counts_to_the_day_it_falls_on() -> None:
    # 2027 has no 29 February: the gift falls on 28 February, 30 days after 29 January
    assert due(2, 29, date(2027, 2, 28), set_on=date(2027, 1, 29)) is True
    assert due(2, 29, date(2027, 2, 28), set_on=date(2027, 1, 30)) is False
    # 2028 has one: 30 days after 30 January
    assert due(2, 29, date(2028, 2, 29), set_on=date(2028, 1, 30)) is True
    assert due(2, 29, date(2028, 2, 29), set_on=date(2028, 1, 31)) is False


@pytest.mark.parametrize(
    ("month", "day", "today", "last", "gift_on"),
    [
        (8, 1, date(2026, 6, 1), None, date(2026, 8, 1)),  # 61 days ahead: this year
        (7, 1, date(2026, 6, 1), None, date(2026, 7, 1)),  # 30 days ahead: still this year
        (6, 30, date(2026, 6, 1), None, date(2027, 6, 30)),  # 29 days ahead: next year
        (6, 1, date(2026, 6, 1), None, date(2027, 6, 1)),  # today: next year
        (1, 5, date(2026, 12, 20), None, date(2028, 1, 5)),  # across the year end
        (2, 29, date(2027, 2, 10), None, date(2028, 2, 29)),  # 28 Feb 2027 too close
        (2, 29, date(2027, 1, 20), None, date(2027, 2, 28)),  # 28 Feb in a common year
        # changed after this year's gift: the 12-month rule pushes it to next year
        (9, 1, date(2026, 6, 1), date(2026, 5, 1), date(2027, 9, 1)),
        (5, 2, date(2026, 5, 1), date(2026, 5, 1), date(2027, 5, 2)),
    ],
)
def test_the_shopper_is_told_when_the_first_gift_arrives(
    month: int, day: int, today: date, last: date | None, gift_on: date
) -> None:
    found = rules.birthday_next_gift(
        month=month, day=day, today=today, set_on=today, last_gift_for=last
    )
    assert found == gift_on
    assert due(month, day, found, set_on=today, last=last) is True


def test_the_next_gift_of_a_birthday_set_long_ago_is_its_next_day() -> None:
    found = rules.birthday_next_gift(
        month=5, day=1, today=date(2026, 4, 30), set_on=LONG_AGO, last_gift_for=date(2025, 5, 1)
    )
    assert found == date(2026, 5, 1)
    # on the day, once given, the next is a year later
    found = rules.birthday_next_gift(
        month=5, day=1, today=date(2026, 5, 1), set_on=LONG_AGO, last_gift_for=date(2026, 5, 1)
    )
    assert found == date(2027, 5, 1)


@pytest.mark.parametrize(
    ("month", "day", "year", "problem"),
    [
        (5, 1, None, None),
        (2, 29, None, None),
        (2, 29, 2024, None),
        (2, 29, 2023, "2023 had no 29 February."),
        (2, 30, None, "Choose a day of the month."),
        (4, 31, None, "That month has no such day."),
        (13, 1, None, "Choose a month."),
        ("5", 1, None, "Choose a month."),
        (5, 1, 1800, "Give a year between 1906 and 2026."),
        (12, 31, 2026, "A birthday cannot be in the future."),
    ],
)
def test_birthday_problem(month, day, year, problem) -> None:
    assert rules.birthday_problem(month, day, year, date(2026, 6, 15)) == problem


def test_anniversary_from_the_first_year_on() -> None:
    assert rules.anniversary_due(joined=date(2025, 3, 10), today=date(2026, 3, 10)) == 1
    assert rules.anniversary_due(joined=date(2025, 3, 10), today=date(2028, 3, 10)) == 3
    assert rules.anniversary_due(joined=date(2026, 3, 10), today=date(2026, 3, 10)) is None
    assert rules.anniversary_due(joined=date(2025, 3, 10), today=date(2026, 3, 11)) is None
    assert rules.anniversary_due(joined=date(2024, 2, 29), today=date(2025, 2, 28)) == 1


def test_follow_links_must_be_the_networks_https_pages() -> None:
    assert rules.profile_url_problem("instagram", "https://www.instagram.com/beam") is None
    assert rules.profile_url_problem("x", "https://twitter.com/beam") is None
    assert rules.profile_url_problem("instagram", "http://instagram.com/beam") == (
        "Give the full https:// address of your profile."
    )
    assert rules.profile_url_problem("instagram", "https://evil.example/instagram.com") == (
        "Give an address on instagram.com."
    )
    assert rules.profile_url_problem("tiktok", "javascript:alert(1)") == (
        "Give the full https:// address of your profile."
    )


def test_share_intents_carry_the_page() -> None:
    assert rules.share_intent_url("x", "https://shop.example/?a=1") == (
        "https://x.com/intent/post?url=https%3A%2F%2Fshop.example%2F%3Fa%3D1"
    )
    assert rules.share_intent_url("facebook", "https://shop.example/").startswith(
        "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2F"
    )


def test_texts_are_the_merchants_else_the_languages_default_else_english() -> None:
    texts = rules.action_texts(
        kind="social_follow",
        network="instagram",
        name="",
        stored={"fr": {"title": "Suivez Beam", "description": " "}},
        languages=["en", "fr", "de"],
    )
    assert texts["en"]["title"] == "Follow us on Instagram"
    assert texts["fr"] == {
        "title": "Suivez Beam",
        "description": "Suivez notre compte et gagnez des points.",
    }
    assert texts["de"]["title"] == "Folgen Sie uns auf Instagram"
    assert rules.action_reason("social_follow", "instagram") == "Followed us on Instagram"
    assert rules.action_reason("birthday") == "Birthday gift"
