"""The pure referral rules: email keys and similarity, disposable domains, the claim's and
the order's fraud checks with their reasons, the cap, the settings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from loyalty.rules import referrals as rules


@pytest.mark.parametrize(
    ("a", "b", "similar"),
    [
        ("J.Ane+x@Gmail.com", "jane@googlemail.com", True),
        ("jane.doe@x.com", "janedoe1@x.com", True),
        ("jane.doe@gmail.com", "janedoe@yahoo.com", True),
        ("ann@x.com", "bob@x.com", False),
        ("al@x.com", "bo@x.com", False),
        ("", "jane@x.com", False),
    ],
)
def test_emails_similar(a, b, similar):
    assert rules.emails_similar(a, b) is similar


def test_email_key_and_edit_distance():
    assert rules.email_key("J.Ane+tag@GMAIL.com") == "jane@gmail.com"
    assert rules.email_key("j.ane+tag@example.com") == "j.ane@example.com"
    assert rules.edit_distance("kitten", "sitting") == 3
    assert rules.edit_distance("abc", "abd") == 1


def test_disposable_domains_and_subdomains():
    assert rules.email_disposable("x@mailinator.com")
    assert rules.email_disposable("x@inbox.mailinator.com")
    assert not rules.email_disposable("x@example.com")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"friend_email": "ada+1@example.com"}, rules.SIMILAR_EMAIL),
        ({"friend_email": "bob@mailinator.com"}, rules.DISPOSABLE_EMAIL),
        ({"ip_referrals_this_week": 10}, rules.IP_VOLUME),
        ({"known_customer": True}, rules.NOT_FIRST_ORDER),
        ({}, None),
    ],
)
def test_claim_verdict(kwargs, reason):
    args = {
        "friend_email": "bob@example.com",
        "advocate_email": "ada@example.com",
        "ip_referrals_this_week": 9,
        "known_customer": False,
        **kwargs,
    }
    verdict = rules.claim_verdict(**args)
    assert (verdict.reason if verdict else None) == reason


ADVOCATE = rules.Party(1, "ada@example.com", "Ada", "Lovelace", frozenset({"k1"}))


@pytest.mark.parametrize(
    ("order", "earlier", "detail"),
    [
        (rules.Party(1, "bob@example.com"), 0, "same customer"),
        (rules.Party(2, "ada+2@example.com"), 0, "same email"),
        (rules.Party(2, "bob@example.com", "ADA", "lovelace"), 0, "same name"),
        (
            rules.Party(2, "bob@example.com", address_keys=frozenset({"k1"})),
            0,
            "same shipping address",
        ),
        (rules.Party(2, "bob@example.com"), 1, "1 earlier order(s)"),
        (rules.Party(2, "bob@example.com"), 0, None),
    ],
)
def test_order_verdict(order, earlier, detail):
    verdict = rules.order_verdict(
        order=order, advocate=ADVOCATE, earlier_orders=earlier, first_order_only=True
    )
    assert (verdict.detail if verdict else None) == detail


def test_address_key_ignores_case_and_spacing_and_needs_a_street():
    a = {"address1": "1 Main  St", "zip": "AB1 2CD", "country_code": "GB"}
    b = {"address1": "1 main st", "zip": "ab12cd", "country_code": "gb"}
    assert rules.address_key(a, "s") == rules.address_key(b, "s") != ""
    assert rules.address_key({"zip": "1"}, "s") == "" and rules.address_key(None, "s") == ""


def test_cap_and_periods():
    assert rules.cap_period(rules.CAP_MONTH, date(2026, 5, 3)) == "2026-05"
    assert rules.cap_period(rules.CAP_EVER, date(2026, 5, 3)) == ""
    assert rules.cap_reached(cap_count=2, rewarded_in_period=2)
    assert not rules.cap_reached(cap_count=0, rewarded_in_period=99)


def test_settings_problems():
    assert rules.settings_problem({}, reward_ids=[]) is None
    assert rules.settings_problem(
        {"offer_kind": "percent", "offer_value": Decimal("120")}, reward_ids=[]
    ) == ("offer_value", "A percentage is at most 100.")
    assert rules.settings_problem({"reward_kind": "reward", "reward_id": 9}, reward_ids=[1])[0] == (
        "reward_id"
    )
    assert rules.settings_problem({"bogus": 1}, reward_ids=[]) == ("bogus", "Unknown setting.")


def test_codes_use_the_unambiguous_alphabet():
    assert rules.referral_code_new(lambda alphabet: alphabet[0]) == "AAAAAAA"
    assert rules.friend_code_new(lambda alphabet: alphabet[-1]) == "FRIEND-9999-9999"
    assert rules.referral_code_clean(" abcdefg ") == "ABCDEFG"
    assert rules.referral_code_clean("ABCDEF0") is None
