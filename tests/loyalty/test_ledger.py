"""The ledger: immutability, drift detection, manual adjustments, CSV import/export."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loyalty.errors import InsufficientPoints, InvalidAdjustment, LedgerImmutable
from loyalty.models import LedgerDrift, LedgerEntry, Member
from loyalty.selectors import ledger_export_csv, members_export_csv
from loyalty.services import ledger_verify, members_import_balances, points_adjust
from loyalty.tasks import ledger_verify as ledger_verify_task
from tests.loyalty.factories import MemberFactory


@pytest.fixture
def member(shop):
    return MemberFactory(shop=shop)


def adjust(shop, member, amount, key="k", reason="goodwill"):
    return points_adjust(
        shop=shop, member=member, amount=amount, reason=reason, actor="staff@x", idempotency_key=key
    )


def test_entries_cannot_be_updated_or_deleted(shop, member):
    entry = adjust(shop, member, 10)
    entry.amount = 1000
    with pytest.raises(LedgerImmutable):
        entry.save()
    with pytest.raises(LedgerImmutable):
        entry.delete()
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=1000)
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 10


def test_manual_adjustment(shop, member):
    entry = adjust(shop, member, 25)
    assert (entry.kind, entry.amount, entry.note, entry.actor) == (
        "manual",
        25,
        "goodwill",
        "staff@x",
    )
    member.refresh_from_db()
    assert (member.balance, member.lifetime_earned) == (25, 25)
    assert adjust(shop, member, 25).pk == entry.pk  # same key: same entry
    adjust(shop, member, -5, key="k2")
    member.refresh_from_db()
    assert member.balance == 20


@pytest.mark.parametrize("reason", ["", "   "])
def test_manual_adjustment_requires_a_reason(shop, member, reason):
    with pytest.raises(InvalidAdjustment):
        adjust(shop, member, 10, reason=reason)
    member.refresh_from_db()
    assert member.balance == 0
    assert not LedgerEntry.objects.exists()


def test_manual_deduction_cannot_overdraw(shop, member):
    adjust(shop, member, 10)
    with pytest.raises(InsufficientPoints):
        adjust(shop, member, -11, key="k2")
    member.refresh_from_db()
    assert member.balance == 10
    assert LedgerEntry.objects.count() == 1


def test_ledger_verify_catches_a_corrupted_balance(shop, member):
    adjust(shop, member, 10)
    clean = MemberFactory(shop=shop)
    assert ledger_verify().drifts == []
    Member.objects.filter(pk=member.pk).update(balance=99)  # corruption behind the ledger's back

    report = ledger_verify()

    assert report.members_checked == 2
    assert len(report.drifts) == 1
    drift = LedgerDrift.objects.get()
    assert (drift.member_id, drift.balance, drift.ledger_balance) == (member.pk, 99, 10)
    assert clean.pk != drift.member_id
    assert ledger_verify_task.delay().get() == 1


CSV_GOOD = (
    "customer_id,email,first_name,last_name,points\n"
    "1001,a@example.com,Ann,A,120\n"
    "1002,b@example.com,Ben,B,0\n"
    "oops,c@example.com,Cy,C,5\n"
    "1004,d@example.com,Di,D,-3\n"
)


def test_import_is_idempotent_and_reports_bad_rows(shop):
    first = members_import_balances(shop=shop, csv_file=io.StringIO(CSV_GOOD), actor="me")
    assert (first.rows, first.created, first.changed, first.unchanged) == (4, 2, 0, 0)
    assert [line for line, _ in first.errors] == [4, 5]
    assert Member.objects.get(customer_id=1001).balance == 120
    assert Member.objects.get(customer_id=1002).balance == 0
    assert not Member.objects.filter(customer_id__in=[1004]).exists()

    again = members_import_balances(shop=shop, csv_file=io.StringIO(CSV_GOOD), actor="me")
    assert (again.created, again.changed, again.unchanged) == (0, 0, 2)
    assert Member.objects.get(customer_id=1001).balance == 120
    assert LedgerEntry.objects.filter(kind="import").count() == 1

    corrected = "customer_id,points\n1001,150\n"
    members_import_balances(shop=shop, csv_file=io.StringIO(corrected), actor="me")
    assert Member.objects.get(customer_id=1001).balance == 150
    members_import_balances(shop=shop, csv_file=io.StringIO(CSV_GOOD), actor="me")
    assert Member.objects.get(customer_id=1001).balance == 120
    assert ledger_verify(shop=shop).drifts == []


def test_import_rejects_a_file_without_the_columns(shop):
    report = members_import_balances(
        shop=shop, csv_file=io.StringIO("id,balance\n1,2\n"), actor="me"
    )
    assert report.errors == [(1, "missing column(s): customer_id, points")]
    assert not Member.objects.exists()


def test_export_members_and_ledger(shop, member):
    adjust(shop, member, 10, reason="=HYPERLINK()")
    out = io.StringIO()
    assert members_export_csv(shop=shop, out=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("customer_id,email,first_name,last_name,points")
    assert lines[1].startswith(f"{member.customer_id},{member.email},,,10,0,10,0,")
    out = io.StringIO()
    assert ledger_export_csv(shop=shop, out=out) == 1
    row = out.getvalue().splitlines()[1].split(",")
    assert row[2:6] == [str(member.customer_id), "10", "manual", "available"]
    assert row[-1] == "'=HYPERLINK()"


def test_import_and_export_commands(shop, tmp_path):
    path = tmp_path / "balances.csv"
    path.write_text("customer_id,points\n55,40\n")
    out = io.StringIO()
    call_command("loyalty_import_balances", str(path), shop=shop.domain, stdout=out)
    assert "created=1" in out.getvalue()
    assert Member.objects.get(customer_id=55).balance == 40
    target = tmp_path / "ledger.csv"
    call_command("loyalty_export", shop=shop.domain, what="ledger", output=str(target))
    assert ",55,40,import," in target.read_text()
    path.write_text("customer_id,points\nx,1\n")
    with pytest.raises(CommandError):
        call_command(
            "loyalty_import_balances",
            str(path),
            shop=shop.domain,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
