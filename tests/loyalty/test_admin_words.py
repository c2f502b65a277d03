"""The admin's words for stored rows: the audit trail and a member's ledger."""

from __future__ import annotations

import pytest

from loyalty.admin_words import audit_lines, change_lines, ledger_lines
from loyalty.models import AuditEvent, LedgerEntry


def test_changes_read_as_labelled_before_and_after_with_unchanged_fields_left_out() -> None:
    lines = change_lines(
        {
            "enabled": [True, False],
            "points_per_currency_unit": ["1.0000", "2"],
            "welcome_points": [100, 100],
            "branding.primary_color": ["#4f46e5", "#ff0000"],
            "branding.position": [None, "bottom-left"],
            "landing.faq": [[{"q": "a"}], [{"q": "a"}, {"q": "b"}]],
            "excluded_product_tags": [[], ["gift-card", "sale"]],
            "rounding": ["down", "nearest"],
        }
    )

    assert lines == [
        "Program: on → off",
        "Points per 1 unit spent: 1 → 2",
        "Brand colour: #4f46e5 → #ff0000",
        "Launcher position: bottom-left",
        "Landing page: faq: 1 item → 2 items",
        "Excluded product tags: none → gift-card, sale",
        "Rounding: down → nearest",
    ]


@pytest.mark.parametrize(
    ("actor", "who"),
    [("77", "Ann Lee"), ("12", "Staff member 12"), ("", "Beam"), ("system", "Beam")],
)
def test_who_is_the_staff_members_name_when_known(actor: str, who: str) -> None:
    event = AuditEvent(actor=actor, action="program.disable", changes={})

    [line] = audit_lines([event], {"77": "Ann Lee"})

    assert (line.who, line.what) == (who, "Turned the program off")


def test_actions_read_as_sentences_with_their_subject() -> None:
    events = [
        AuditEvent(actor="1", action="reward.create", summary="Free shipping", changes={}),
        AuditEvent(actor="1", action="something.new", summary="", changes={}),
    ]

    assert [line.what for line in audit_lines(events, {})] == [
        "Added the reward “Free shipping”",
        "Something new",
    ]


def test_ledger_rows_name_the_order_and_keep_only_notes_that_add_something() -> None:
    entries = [
        LedgerEntry(kind="order_earn", note="#1001", actor="", amount=50, bucket="available"),
        LedgerEntry(kind="order_earn", note="#1002", actor="", amount=20, bucket="pending"),
        LedgerEntry(kind="manual", note="Late parcel", actor="77", amount=5, bucket="available"),
    ]

    rows = [(r.what, r.by, r.note) for r in ledger_lines(entries, {"77": "Ann Lee"})]

    assert rows == [
        ("Order #1001", "Beam", ""),
        ("Order #1002 (pending)", "Beam", ""),
        ("Adjustment", "Ann Lee", "Late parcel"),
    ]
