"""Tiers in the crediting engine: the multiplier is part of the earning plan, the move up
happens in the transaction that credits the order, refunds reverse exactly what was given,
and a drained batch composes as if its deliveries ran one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devstore.clock import clock_at
from loyalty import services
from loyalty.models import LedgerEntry, LoyaltyOrder, LoyaltyProgram, TierChange, TierSettings
from loyalty.services import ledger_verify
from loyalty.services.tier_grants import tier_manual_set
from merchants import inbox, inbox_record
from tests.loyalty.factories import line, order, refund
from tests.loyalty.tier_helpers import credited, history, member_of, paid, tier_name, tiers_setup
from tests.merchants.webhook_support import ShopFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 10, 12, tzinfo=UTC)
D = Decimal


@pytest.fixture
def shop():  # type: ignore[no-untyped-def]
    shop = ShopFactory()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


def entries(shop, kind: str) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return list(
        LedgerEntry.objects.filter(shop=shop, kind=kind)
        .order_by("pk")
        .values_list("idempotency_key", "amount")
    )


def test_the_order_reaching_a_tier_earns_at_the_old_multiplier_and_the_next_at_the_new(
    shop,  # type: ignore[no-untyped-def]
) -> None:
    tiers = tiers_setup(shop)
    with clock_at(NOW):
        paid(shop, 1, "60.00")
        assert tier_name(member_of(shop)) is None
        paid(shop, 2, "45.00")  # 105 points: Silver
        member = member_of(shop)
        assert (tier_name(member), member.tier_multiplier) == ("Silver", D("1.25"))
        assert member.earned_tier_id == tiers["Silver"].pk
        assert member.tier_expires_at == datetime(2027, 1, 1, tzinfo=UTC)
        assert credited(shop, 2).tier_multiplier == D(1)
        paid(shop, 3, "11.00")  # 11 x 1.25 = 13.75, rounded down

    third = credited(shop, 3)
    assert (third.points_due, third.tier_multiplier, third.points_earned) == (11, D("1.25"), 13)
    member = member_of(shop)
    assert member.balance == 60 + 45 + 50 + 13  # the entry points included
    assert member.lifetime_earned == member.balance
    assert entries(shop, "tier_entry") == [
        (f"tier:{member.pk}:{tiers['Silver'].pk}:2025:entry", 50)
    ]
    assert history(member) == [("earned", "", "Silver")]
    change = TierChange.objects.get(member=member)
    assert (change.at, change.ends_at) == (NOW, datetime(2027, 1, 1, tzinfo=UTC))
    assert ledger_verify(shop=shop).drifts == []


def test_one_order_can_jump_tiers_and_gets_only_the_top_entry_points(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(NOW):
        paid(shop, 1, "600.00")
    member = member_of(shop)
    assert (tier_name(member), member.balance) == ("Gold", 600 + 200)
    assert history(member) == [("earned", "", "Gold")]


def test_a_refund_reverses_the_multiplied_points_exactly_and_never_demotes(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(NOW):
        paid(shop, 1, "120.00")  # Silver
        paid(shop, 2, "40.00")  # 40 x 1.25 = 50
        services.refund_webhook_process(shop=shop, payload=refund(71, 2, [(1, "20.00")]))
        services.refund_webhook_process(shop=shop, payload=refund(72, 1, [(1, "120.00")]))

    second = credited(shop, 2)
    assert (second.points_earned, second.points_reversed) == (50, 25)
    member = member_of(shop)
    assert member.balance == 120 + 50 + 50 - 25 - 120
    assert tier_name(member) == "Silver"  # kept until its grace ends, whatever refunds say
    assert history(member) == [("earned", "", "Silver")]
    report = ledger_verify(shop=shop)
    assert (report.drifts, report.order_drifts) == ([], [])


def test_refunds_count_against_qualification_before_the_threshold(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(NOW):
        paid(shop, 1, "80.00")
        services.refund_webhook_process(shop=shop, payload=refund(71, 1, [(1, "40.00")]))
        paid(shop, 2, "50.00")  # 40 + 50 = 90 points net: no tier
    assert tier_name(member_of(shop)) is None
    with clock_at(NOW):
        paid(shop, 3, "10.00")
    assert tier_name(member_of(shop)) == "Silver"


def test_tiers_off_give_no_multiplier_even_to_a_member_holding_one(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(NOW):
        paid(shop, 1, "200.00")
    TierSettings.objects.filter(shop=shop).update(enabled=False)
    with clock_at(NOW):
        paid(shop, 2, "10.00")
    second = credited(shop, 2)
    assert (second.tier_multiplier, second.points_earned) == (D(1), 10)


def test_without_tiers_the_engine_reads_tiers_once_per_batch(shop) -> None:  # type: ignore[no-untyped-def]
    with clock_at(NOW):
        paid(shop, 1, "10.00")
        with CaptureQueriesContext(connection) as off:
            paid(shop, 2, "10.00")
    tiers_setup(shop)
    with clock_at(NOW), CaptureQueriesContext(connection) as on:
        paid(shop, 3, "10.00")
    tier_reads = [q["sql"] for q in off.captured_queries if "loyalty_tier" in q["sql"]]
    assert len(tier_reads) == 1
    # On: the same statements plus the member's qualifying sums (one indexed read).
    sums = [
        q for q in on.captured_queries if "SUM(" in q["sql"] and "loyalty_loyaltyorder" in q["sql"]
    ]
    assert len(sums) == 1
    assert len(on.captured_queries) == len(off.captured_queries) + 1


def test_a_member_in_the_top_tier_earns_its_multiplier_without_a_qualifying_read(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(NOW):
        paid(shop, 1, "600.00", customer_id=501)  # Gold: the top tier
        paid(shop, 2, "150.00", customer_id=502)  # Silver
        with CaptureQueriesContext(connection) as top:
            paid(shop, 3, "10.00", customer_id=501)
        with CaptureQueriesContext(connection) as below:
            paid(shop, 4, "10.00", customer_id=502)

    def sums(captured: CaptureQueriesContext) -> list[str]:
        return [
            q["sql"]
            for q in captured.captured_queries
            if "SUM(" in q["sql"] and "loyalty_loyaltyorder" in q["sql"]
        ]

    assert (len(sums(top)), len(sums(below))) == (0, 1)
    assert len(top.captured_queries) == len(below.captured_queries) - 1
    assert (credited(shop, 3).points_earned, credited(shop, 4).points_earned) == (15, 12)
    assert tier_name(member_of(shop, 501)) == "Gold"


def test_entry_points_are_given_once_per_tier_and_period(shop) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    with clock_at(NOW):
        paid(shop, 1, "150.00")
        member = member_of(shop)
        tier_manual_set(shop=shop, member_id=member.pk, tier_id=None, actor="staff", key="k1")
        assert tier_name(member_of(shop)) is None
        paid(shop, 2, "5.00")  # reaches Silver again in 2025
    member = member_of(shop)
    assert tier_name(member) == "Silver"
    assert len(entries(shop, "tier_entry")) == 1
    assert history(member) == [
        ("earned", "", "Silver"),
        ("manual", "Silver", ""),
        ("earned", "", "Silver"),
    ]
    with clock_at(datetime(2026, 2, 1, tzinfo=UTC)):
        tier_manual_set(shop=shop, member_id=member.pk, tier_id=None, actor="staff", key="k2")
        paid(shop, 3, "150.00")  # a new calendar year: a new entry
    assert [a for _, a in entries(shop, "tier_entry")] == [50, 50]


def test_spend_metric_counts_goods_net_of_discounts_and_refunds_before_their_order(
    shop,  # type: ignore[no-untyped-def]
) -> None:
    tiers_setup(shop, (("Silver", "100.00", "1.25", 0),), metric="spend")
    payload = order(
        1, [line("60.00", 2, discount="10.00", tax="11.00")], taxes_included=True, shipping="9.00"
    )
    with clock_at(NOW):
        refund_payload = refund(71, 1, [(1, "33.00")])
        refund_payload["refund_line_items"][0]["total_tax"] = "3.00"
        refund_payload["refund_line_items"][0]["total_tax_set"] = {
            "shop_money": {"amount": "3.00", "currency_code": "USD"}
        }
        services.refund_webhook_process(shop=shop, payload=refund_payload)  # before its order
        services.order_webhook_process(
            shop=shop, topic="orders/paid", payload=payload, triggered_at=None
        )
    row = credited(shop, 1)
    assert (row.spend_goods, row.spend_discounts, row.spend_shipping, row.spend_tax) == (
        D("99.00"),
        D("10.00"),
        D("9.00"),
        D("11.00"),
    )
    # The refund's subtotal included tax: once the order said so, 30.00 of goods came back.
    assert (row.spend_refunded_goods, row.spend_refunded_tax) == (D("30.00"), D("3.00"))
    assert row.spend_refunded_discounts == D("3.03")
    assert tier_name(member_of(shop)) is None  # 99.00 - 30.00 = 69.00
    with clock_at(NOW):
        paid(shop, 2, "31.00")
    assert tier_name(member_of(shop)) == "Silver"


def test_a_new_member_gets_the_grant_the_settings_give_and_earns_with_it(shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    TierSettings.objects.filter(shop=shop).update(new_member_tier=tiers["Gold"], new_member_days=30)
    with clock_at(NOW):
        paid(shop, 1, "20.00")  # creates the member
    member = member_of(shop)
    assert (tier_name(member), member.granted_tier_id, member.earned_tier_id) == (
        "Gold",
        tiers["Gold"].pk,
        None,
    )
    assert member.grant_ends_at == datetime(2025, 7, 10, 12, tzinfo=UTC)
    assert credited(shop, 1).points_earned == 30  # 20 x 1.5
    assert history(member) == [("granted", "", "Gold")]


def test_a_guest_order_linked_at_sign_up_is_credited_with_the_members_multiplier(shop) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    TierSettings.objects.filter(shop=shop).update(
        new_member_tier=tiers["Silver"], new_member_days=7
    )
    with clock_at(NOW):
        paid(shop, 1, "40.00", customer_id=None, email="guest@example.com")  # type: ignore[arg-type]
        services.customer_webhook_process(
            shop=shop,
            topic="customers/create",
            payload={"id": 777, "email": "guest@example.com", "first_name": "G"},
        )
    member = member_of(shop, 777)
    assert tier_name(member) == "Silver"
    assert credited(shop, 1).points_earned == 50
    assert history(member) == [("granted", "", "Silver")]


def _drain(shop, payloads: list[dict]) -> None:  # type: ignore[no-untyped-def,type-arg]
    for n, payload in enumerate(payloads):
        inbox_record.delivery_record(
            shop=shop,
            webhook_id=f"w{n}",
            topic="orders/paid",
            payload=payload,
            triggered_at=NOW,
        )
    inbox.deliveries_drain(shop=shop)


@pytest.mark.usefixtures("inbox_not_processed")
def test_a_drained_batch_composes_as_if_run_one_by_one(batch_calls: list[int]) -> None:
    results = []
    for batched in (True, False):
        shop = ShopFactory()
        LoyaltyProgram.objects.create(shop=shop)
        tiers_setup(shop)
        payloads = [
            order(10 + n, [line(price)], customer_id=501 + n % 2)
            for n, price in enumerate(["90.00", "30.00", "20.00", "480.00", "8.00", "40.00"])
        ]
        with clock_at(NOW):
            if batched:
                _drain(shop, payloads)
            else:
                for payload in payloads:
                    services.order_webhook_process(
                        shop=shop, topic="orders/paid", payload=payload, triggered_at=None
                    )
        results.append(
            (
                sorted(
                    LoyaltyOrder.objects.filter(shop=shop).values_list(
                        "order_id", "tier_multiplier", "points_earned"
                    )
                ),
                [(m.customer_id, tier_name(m), m.balance) for m in shop_members(shop)],
            )
        )
    assert batch_calls[0] == 6  # the first shop went through one batch
    assert results[0] == results[1]
    orders, members = results[0]
    assert members == [(501, "Silver", 90 + 20 + 50 + 10), (502, "Gold", 30 + 480 + 200 + 60)]
    assert orders[4] == (14, D("1.25"), 10)


def shop_members(shop):  # type: ignore[no-untyped-def]
    from loyalty.models import Member

    return list(Member.objects.filter(shop=shop).order_by("customer_id").select_related("tier"))
