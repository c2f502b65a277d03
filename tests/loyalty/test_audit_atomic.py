"""Admin changes and their audit rows commit together: a change that fails writes no audit
row, a successful one writes exactly one, and an audit row that cannot be written takes the
change back with it (so there is never a change without its audit row)."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from devstore import services as store
from devstore.models import DevDiscountCode
from loyalty import audit as audit_module
from loyalty.errors import InsufficientPoints
from loyalty.models import AuditEvent, LedgerEntry, Member, Redemption, Reward
from loyalty.services import (
    AuditRecord,
    adjustments,
    member_points_adjust,
    members_import_audited,
    members_import_balances,
    points_adjust,
    program_config,
    redemption_cancel_audited,
    redemptions,
    reward_redeem,
)
from merchants import replay
from merchants.models import Shop, WebhookDelivery
from tests.devstore_install import beam_install
from tests.loyalty.admin_helpers import admin_shop
from tests.loyalty.factories import MemberFactory, ProgramFactory, RewardFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


REAL_AUDIT_RECORD = audit_module.audit_record


def deliveries_replay_audited(*, shop, actor, delivery_ids=None) -> dict[str, int]:
    """The admin's replay: the inbox's one replay with the audit row as its callback."""
    return replay.deliveries_replay(
        shop=shop,
        delivery_ids=delivery_ids,
        on_queued=audit_module.replay_audit(shop=shop, actor=actor),
    )


class AuditDown(Exception):
    """The audit insert failed (disk full, constraint, lost connection...)."""


def audit_patch(monkeypatch, replacement) -> None:
    """Replace ``audit_record`` where each service module looks it up."""
    for module in (adjustments, program_config, redemptions, audit_module):
        monkeypatch.setattr(module, "audit_record", replacement)


@pytest.fixture
def audit_fails(monkeypatch) -> None:
    def broken(**kwargs):
        raise AuditDown(kwargs["action"])

    audit_patch(monkeypatch, broken)


@pytest.fixture
def audit_calls(monkeypatch) -> list[dict]:
    """Record, for each audit row written, whether a transaction was open and what the
    database already held at that moment (the change must be visible, uncommitted)."""
    calls: list[dict] = []

    def recording(**kwargs):
        calls.append(
            {
                "action": kwargs["action"],
                "in_transaction": connection.in_atomic_block,
                "entries": LedgerEntry.objects.count(),
                "redemption_statuses": list(Redemption.objects.values_list("status", flat=True)),
                "delivery_statuses": list(WebhookDelivery.objects.values_list("status", flat=True)),
            }
        )
        return REAL_AUDIT_RECORD(**kwargs)

    audit_patch(monkeypatch, recording)
    return calls


def audit_rows(shop) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(shop=shop)
        .order_by("pk")
        .values_list("action", "actor", "target_id")
    )


def state(shop) -> tuple:
    return (
        list(Member.objects.filter(shop=shop).order_by("pk").values_list("customer_id", "balance")),
        list(LedgerEntry.objects.filter(shop=shop).order_by("pk").values_list("kind", "amount")),
        audit_rows(shop),
    )


# --- points adjustment ------------------------------------------------------------------------


@pytest.fixture
def member(shop, program) -> Member:
    m = MemberFactory(shop=shop, customer_id=501)
    points_adjust(shop=shop, member=m, amount=100, reason="seed", actor="t", idempotency_key="s")
    m.refresh_from_db()
    return m


def test_adjustment_writes_one_audit_row_in_its_own_transaction(shop, member, audit_calls):
    entry = member_points_adjust(
        shop=shop, member=member, amount=25, reason="Gift", actor="77", idempotency_key="f1"
    )
    again = member_points_adjust(
        shop=shop, member=member, amount=25, reason="Gift", actor="77", idempotency_key="f1"
    )

    assert again.pk == entry.pk
    assert audit_rows(shop) == [("points.adjust", "77", str(entry.pk))]
    assert AuditEvent.objects.get(shop=shop).changes == {"balance": [100, 125]}
    # written while the entry was there but before anything committed on its own
    assert audit_calls == [
        {
            "action": "points.adjust",
            "in_transaction": True,
            "entries": 2,
            "redemption_statuses": [],
            "delivery_statuses": [],
        }
    ]
    assert Member.objects.get(pk=member.pk).balance == 125


def test_refused_adjustment_writes_no_audit_row(shop, member):
    before = state(shop)

    with pytest.raises(InsufficientPoints):
        member_points_adjust(
            shop=shop, member=member, amount=-101, reason="x", actor="77", idempotency_key="f2"
        )

    assert state(shop) == before


def test_adjustment_whose_audit_row_fails_is_not_applied(shop, member, audit_fails):
    before = state(shop)

    with pytest.raises(AuditDown):
        member_points_adjust(
            shop=shop, member=member, amount=25, reason="Gift", actor="77", idempotency_key="f3"
        )

    assert state(shop) == before
    assert not LedgerEntry.objects.filter(idempotency_key="manual:f3").exists()


def test_adjustment_without_audit_record_writes_none(shop, member):
    points_adjust(shop=shop, member=member, amount=5, reason="api", actor="a", idempotency_key="n")

    assert audit_rows(shop) == []


# --- CSV import -------------------------------------------------------------------------------

CSV = (
    "customer_id,email,first_name,last_name,points\n"
    "1001,ann@example.com,Ann,Lee,250\n"
    "abc,bad@example.com,Bad,Row,10\n"
    "1002,bo@example.com,Bo,,40\n"
)


def test_import_run_writes_one_audit_row_in_the_runs_transaction(shop, program, audit_calls):
    report = members_import_audited(shop=shop, csv_text=CSV, actor="77")

    assert (report.rows, report.created, report.changed, len(report.errors)) == (3, 2, 0, 1)
    assert audit_rows(shop) == [("members.import", "77", "")]
    assert AuditEvent.objects.get(shop=shop).summary == (
        "3 row(s): 2 new, 0 changed, 0 unchanged, 1 error(s)"
    )
    assert audit_calls == [
        {
            "action": "members.import",
            "in_transaction": True,
            "entries": 2,
            "redemption_statuses": [],
            "delivery_statuses": [],
        }
    ]
    # the same file again changes nothing, so nothing is audited
    again = members_import_audited(shop=shop, csv_text=CSV, actor="77")
    assert (again.created, again.changed, again.unchanged) == (0, 0, 2)
    assert len(audit_rows(shop)) == 1


def test_import_that_fails_midway_applies_no_row_and_audits_nothing(shop, program, monkeypatch):
    real_post = adjustments.ledger_post
    posts = {"n": 0}

    def failing_second_post(**kwargs):
        posts["n"] += 1
        if posts["n"] == 2:
            raise RuntimeError("database went away")
        return real_post(**kwargs)

    monkeypatch.setattr(adjustments, "ledger_post", failing_second_post)
    before = state(shop)

    with pytest.raises(RuntimeError):
        members_import_audited(shop=shop, csv_text=CSV, actor="77")

    assert posts["n"] == 2
    assert state(shop) == before


def test_import_whose_audit_row_fails_applies_no_row(shop, program, audit_fails):
    before = state(shop)

    with pytest.raises(AuditDown):
        members_import_audited(shop=shop, csv_text=CSV, actor="77")

    assert state(shop) == before


def test_import_with_only_invalid_rows_audits_nothing(shop, program):
    report = members_import_audited(
        shop=shop, csv_text="customer_id,points\nx,1\n5,-1\n", actor="77"
    )

    assert (report.rows, len(report.errors)) == (2, 2)
    assert state(shop) == ([], [], [])


def test_invalid_row_in_an_audited_run_is_skipped_alone(shop, program):
    """The run is one transaction, but a row that would overdraw rolls back only itself."""
    m = MemberFactory(shop=shop, customer_id=1002)
    members_import_balances(
        shop=shop, csv_file=io.StringIO("customer_id,points\n1002,50\n"), actor="t"
    )
    points_adjust(shop=shop, member=m, amount=-40, reason="spent", actor="t", idempotency_key="x")

    report = members_import_balances(
        shop=shop,
        csv_file=io.StringIO("customer_id,points\n1002,0\n1001,7\n"),
        actor="77",
        audit=AuditRecord(actor="77"),
    )

    assert report.errors == [(2, "lowering the imported points by 50 would overdraw the balance")]
    assert report.created == 1
    assert dict(Member.objects.filter(shop=shop).values_list("customer_id", "balance")) == {
        1002: 10,
        1001: 7,
    }
    assert audit_rows(shop) == [("members.import", "77", "")]


# --- code cancel (against the devstore) --------------------------------------------------------

DOMAIN = "audit-cancel.myshopify.com"


@pytest.fixture
def store_redemption(db, django_capture_on_commit_callbacks):
    dev_shop = store.shop_create(DOMAIN, name="Audit Cancel", currency="USD")
    customer = store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")
    shop = beam_install(dev_shop)
    ProgramFactory(shop=shop)
    m = MemberFactory(shop=shop, customer_id=customer.id, email=customer.email)
    points_adjust(shop=shop, member=m, amount=1000, reason="seed", actor="t", idempotency_key="s")
    reward = RewardFactory(
        shop=shop, kind=Reward.Kind.FIXED_AMOUNT, points_cost=500, value=Decimal("10.00")
    )
    with django_capture_on_commit_callbacks(execute=True):
        r = reward_redeem(shop=shop, member_id=m.pk, reward_id=reward.pk, client_key="k")
    r.refresh_from_db()
    assert r.status == Redemption.Status.ISSUED
    return shop, r


def test_cancel_writes_one_audit_row_with_the_refund(store_redemption, audit_calls):
    shop, r = store_redemption

    cancelled = redemption_cancel_audited(shop=shop, redemption_id=r.pk, actor="77")

    assert cancelled.status == Redemption.Status.CANCELLED
    assert audit_rows(shop) == [("redemption.cancel", "77", str(r.pk))]
    assert audit_calls == [
        {
            "action": "redemption.cancel",
            "in_transaction": True,
            "entries": 3,  # seed, redeem, refund
            "redemption_statuses": ["cancelled"],
            "delivery_statuses": [],
        }
    ]
    assert Member.objects.get(pk=r.member_id).balance == 1000


def test_cancel_whose_audit_row_fails_refunds_nothing(store_redemption, audit_fails):
    shop, r = store_redemption
    before = state(shop)

    with pytest.raises(AuditDown):
        redemption_cancel_audited(shop=shop, redemption_id=r.pk, actor="77")

    r.refresh_from_db()
    assert r.status == Redemption.Status.ISSUED
    assert state(shop) == before
    # the store's code was deactivated first (as in any cancel the refund of which fails);
    # a cancel again finishes the job, audited once
    assert DevDiscountCode.objects.get(code=r.code).status == DevDiscountCode.Status.DEACTIVATED


# --- webhook replay ---------------------------------------------------------------------------


@pytest.fixture
def installed(db) -> Shop:
    shop = admin_shop("audit-replay.myshopify.com")
    ProgramFactory(shop=shop)
    return shop


@pytest.fixture
def failed_delivery(installed) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        shop=installed,
        webhook_id="w-audit",
        topic="customers/create",
        payload=json.loads((FIXTURES / "customers_create.json").read_text()),
        status="failed",
        attempts=5,
        last_error="boom",
    )


def test_replay_writes_one_audit_row_with_the_requeue(installed, failed_delivery, audit_calls):
    shop = installed
    outcome = deliveries_replay_audited(shop=shop, actor="77", delivery_ids=[failed_delivery.pk])

    assert outcome == {"succeeded": 1}
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == "succeeded"
    assert audit_rows(shop) == [("webhooks.replay", "77", str(failed_delivery.pk))]
    assert audit_calls == [
        {
            "action": "webhooks.replay",
            "in_transaction": True,
            "entries": 0,
            "redemption_statuses": [],
            "delivery_statuses": ["received"],
        }
    ]


def test_replay_whose_audit_row_fails_requeues_and_runs_nothing(
    installed, failed_delivery, audit_fails
):
    shop = installed
    payload_id = failed_delivery.payload["id"]

    with pytest.raises(AuditDown):
        deliveries_replay_audited(shop=shop, actor="77", delivery_ids=[failed_delivery.pk])

    failed_delivery.refresh_from_db()
    assert (failed_delivery.status, failed_delivery.attempts) == ("failed", 5)
    assert not Member.objects.filter(shop=shop, customer_id=payload_id).exists()
    assert audit_rows(shop) == []


def test_replay_with_nothing_to_replay_audits_nothing(shop, program):
    assert deliveries_replay_audited(shop=shop, actor="77") == {}
    assert audit_rows(shop) == []
