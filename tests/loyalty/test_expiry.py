"""Inactivity expiry and its warning."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from loyalty.models import ExpiryWarning, LedgerEntry, Member
from loyalty.services import ledger_verify, points_adjust, points_expire_due
from tests.loyalty.factories import MemberFactory


def member_with(shop, points, idle_days):
    m = MemberFactory(shop=shop)
    points_adjust(
        shop=shop, member=m, amount=points, reason="seed", actor="t", idempotency_key=f"s{m.pk}"
    )
    Member.objects.filter(pk=m.pk).update(
        last_activity_at=timezone.now() - timedelta(days=idle_days)
    )
    return Member.objects.get(pk=m.pk)


def test_expiry_off_by_default(shop, program):
    m = member_with(shop, 100, idle_days=5000)
    assert points_expire_due() == (0, 0)
    m.refresh_from_db()
    assert m.balance == 100


def test_warning_then_expiry_once(shop, program):
    program.expiry_days = 365
    program.expiry_warning_days = 30
    program.save()
    soon = member_with(shop, 100, idle_days=340)
    gone = member_with(shop, 70, idle_days=366)
    fresh = member_with(shop, 10, idle_days=1)

    assert points_expire_due() == (1, 1)
    assert points_expire_due() == (0, 0)

    warning = ExpiryWarning.objects.get()
    assert (warning.member_id, warning.points) == (soon.pk, 100)
    assert warning.expires_at == soon.last_activity_at + timedelta(days=365)
    gone.refresh_from_db()
    assert gone.balance == 0
    entry = LedgerEntry.objects.get(kind="expire")
    assert (entry.member_id, entry.amount) == (gone.pk, -70)
    assert Member.objects.get(pk=fresh.pk).balance == 10
    assert Member.objects.get(pk=soon.pk).balance == 100

    # a year later the warned member expires too
    later = timezone.now() + timedelta(days=30)
    assert points_expire_due(now=later) == (1, 0)
    assert Member.objects.get(pk=soon.pk).balance == 0
    assert ledger_verify(shop=shop).drifts == []


def test_earning_again_starts_a_new_period(shop, program):
    program.expiry_days = 30
    program.save()
    m = member_with(shop, 50, idle_days=31)
    assert points_expire_due() == (1, 0)
    points_adjust(shop=shop, member=m, amount=20, reason="r", actor="t", idempotency_key="again")
    assert points_expire_due() == (0, 0)
    assert points_expire_due(now=timezone.now() + timedelta(days=31)) == (1, 0)
    m.refresh_from_db()
    assert m.balance == 0
    assert LedgerEntry.objects.filter(kind="expire").count() == 2
