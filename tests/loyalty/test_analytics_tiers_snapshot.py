"""Members and repeat rate per tier: computed at the rollup refresh for the page's preset
ranges (``TierSnapshot``), live for other ranges up to ``LIVE_MAX_DAYS``, members only
beyond. The dataset is ``test_analytics_tiers.tier_dataset`` (shop "Acme", New York); the
refresh runs on 2026-03-31 at 21:00 New York time, so the presets end on March 31:
7 days Mar 25-31, 30 days Mar 2-31, 90 days Jan 1-Mar 31, 365 days 2025-04-01-Mar 31.

Repeaters (2+ counted orders in the range, by the tier now): 201 (Gold: Mar 2 and Mar 20;
the Mar 9 order is cancelled) and 203 (no tier: Mar 6 and Mar 7) in every preset but the
7 days (no order there); 205's only order is on Apr 2, after the refresh.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devstore.clock import clock_at
from loyalty.analytics import selectors, selectors_tiers, services
from loyalty.analytics.models import NO_TIER, TierSnapshot
from loyalty.analytics.selectors_tiers import TierCounts, tier_counts
from loyalty.models import LoyaltyOrder, Member, Tier, TierSettings
from merchants.models import Shop
from tests.loyalty.page_reading import read_page, table_rows
from tests.loyalty.test_analytics import NY, URL, at, auth
from tests.loyalty.test_analytics_tiers import TierData, tier_dataset
from tests.merchants.embedded_helpers import installed_shop

D = Decimal
NOW = datetime(2026, 3, 31, 21, 0, tzinfo=NY)
PRESET_RANGES = {
    "7d": selectors.DateRange(date(2026, 3, 25), date(2026, 3, 31)),
    "30d": selectors.DateRange(date(2026, 3, 2), date(2026, 3, 31)),
    "90d": selectors.DateRange(date(2026, 1, 1), date(2026, 3, 31)),
    "365d": selectors.DateRange(date(2025, 4, 1), date(2026, 3, 31)),
}


@pytest.fixture
def acme(db: None) -> Shop:
    shop = installed_shop(iana_timezone="America/New_York", currency="EUR")
    tier_dataset(shop)
    services.rollup_refresh(shop=shop, now=NOW)
    return shop


def snapshot(shop: Shop) -> dict[str, dict[int, tuple[int, int]]]:
    rows: dict[str, dict[int, tuple[int, int]]] = {}
    for preset, key, start, end, members, repeaters, as_of in TierSnapshot.objects.filter(
        shop=shop
    ).values_list(
        "preset", "tier_key", "range_start", "range_end", "members", "repeaters", "as_of"
    ):
        assert selectors.DateRange(start, end) == PRESET_RANGES[preset]
        assert as_of == NOW
        rows.setdefault(preset, {})[key] = (members, repeaters)
    return rows


def tier_ids(shop: Shop) -> dict[str, int]:
    return {t.name: t.pk for t in Tier.objects.filter(shop=shop)}


def order_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "loyalty_loyaltyorder" in q["sql"]]


# --- the snapshot is the live function's result ------------------------------------------------


def test_the_refresh_stores_the_live_counts_of_each_preset(acme: Shop) -> None:
    t = tier_ids(acme)

    stored = snapshot(acme)

    expected_30d = {NO_TIER: (2, 1), t["Silver"]: (1, 0), t["Gold"]: (2, 1), t["Bronze"]: (1, 0)}
    assert stored["30d"] == stored["90d"] == stored["365d"] == expected_30d
    assert stored["7d"] == {key: (members, 0) for key, (members, _) in expected_30d.items()}
    for preset, rng in PRESET_RANGES.items():  # each range alone, as the page asks live
        live = tier_counts(shop=acme, ranges=[rng])
        assert {k: (c.members, c.repeaters[0]) for k, c in live.items()} == stored[preset]


def test_several_ranges_in_one_statement_equal_each_range_alone(acme: Shop) -> None:
    ranges = [*PRESET_RANGES.values(), selectors.DateRange(date(2026, 3, 6), date(2026, 3, 6))]

    with CaptureQueriesContext(connection) as queries:
        together = tier_counts(shop=acme, ranges=ranges)

    assert len(queries) == 1
    alone = [tier_counts(shop=acme, ranges=[rng]) for rng in ranges]
    for key, counts in together.items():
        assert counts.members == alone[0][key].members
        assert counts.repeaters == tuple(a[key].repeaters[0] for a in alone)
    assert tier_counts(shop=acme, ranges=[]) == {
        key: TierCounts(c.members, ()) for key, c in together.items()
    }


def test_a_refresh_after_new_orders_updates_the_snapshot(acme: Shop) -> None:
    t = TierData.__new__(TierData)
    t.shop, t.next_order, t.next_key, t.tiers = acme, 7000, 0, {}
    t.members = {m.customer_id: m for m in Member.objects.filter(shop=acme)}
    gold = Tier.objects.get(shop=acme, name="Gold")
    t.order(202, at("2026-03-28"), "20.00", None)  # 202 (Silver) now has 2 in 30 days
    t.order(204, at("2026-03-29"), "30.00", None)  # 204 (Gold): 2 orders within 7 days
    t.order(204, at("2026-03-30"), "30.00", None)
    Member.objects.filter(shop=acme, customer_id=203).update(tier=gold)  # moved up

    assert snapshot(acme)["30d"][tier_ids(acme)["Silver"]] == (1, 0)  # as of the last refresh
    services.rollup_refresh(shop=acme, now=NOW)

    s = tier_ids(acme)
    assert snapshot(acme)["30d"] == {
        NO_TIER: (1, 0),
        s["Silver"]: (1, 1),
        s["Gold"]: (3, 3),
        s["Bronze"]: (1, 0),
    }
    assert snapshot(acme)["7d"][s["Gold"]] == (3, 1)


def test_tiers_off_at_a_refresh_clears_the_snapshot(acme: Shop) -> None:
    TierSettings.objects.filter(shop=acme).update(enabled=False)

    services.rollup_refresh(shop=acme, now=NOW)

    assert not TierSnapshot.objects.filter(shop=acme).exists()


def test_a_shop_without_members_still_has_its_snapshot(db: None) -> None:
    shop = installed_shop("empty.myshopify.com", iana_timezone="America/New_York")
    TierData(shop)  # tiers on, nobody yet

    services.rollup_refresh(shop=shop, now=NOW)

    assert snapshot(shop) == {preset: {NO_TIER: (0, 0)} for preset in PRESET_RANGES}
    board = selectors_tiers.tier_board_get(shop=shop, rng=PRESET_RANGES["365d"])
    assert board is not None and board.counts_from == selectors_tiers.FROM_SNAPSHOT


def test_each_shop_has_its_own_snapshot(acme: Shop) -> None:
    other = installed_shop("other.myshopify.com", iana_timezone="America/New_York")
    t = TierData(other)
    for n in range(3):
        t.member(900 + n, "Gold")
        t.order(900 + n, at("2026-03-10"), "5.00", "Gold")
        t.order(900 + n, at("2026-03-11"), "5.00", "Gold")
    services.rollup_refresh(shop=other, now=NOW)

    assert snapshot(other)["30d"] == {NO_TIER: (0, 0), tier_ids(other)["Gold"]: (3, 3)}
    assert snapshot(acme)["30d"][tier_ids(acme)["Gold"]] == (2, 1)
    board = selectors_tiers.tier_board_get(shop=acme, rng=PRESET_RANGES["30d"])
    assert board is not None
    assert [(r.name, r.members, r.repeaters) for r in board.rows] == [
        ("No tier", 2, 1),
        ("Silver", 1, 0),
        ("Gold", 2, 1),
        ("Bronze", 1, 0),
    ]


# --- the page ----------------------------------------------------------------------------------


def test_a_preset_reads_the_snapshot_and_says_as_of_when(client: Any, acme: Shop) -> None:
    t = TierData.__new__(TierData)
    t.shop, t.next_order, t.next_key, t.tiers = acme, 7000, 0, {}
    t.members = {m.customer_id: m for m in Member.objects.filter(shop=acme)}
    t.order(202, at("2026-03-28"), "20.00", None)  # after the refresh: not counted yet

    with clock_at(NOW), CaptureQueriesContext(connection) as queries:
        html = client.get(URL, {"range": "30d"}, **auth(acme)).content.decode()

    assert order_queries(queries) == []  # nothing read from the orders
    rows = table_rows(html, "tier-table")
    assert [r[0:3] + r[6:] for r in rows] == [
        ["No tier", "2", "33.3%", "1", "50.0%"],
        ["Silver", "1", "16.7%", "0", "0.0%"],
        ["Gold", "2", "33.3%", "1", "50.0%"],
        ["Bronze (archived)", "1", "16.7%", "0", "0.0%"],
    ]
    assert read_page(html).find(id="tiers-counts-note").text() == (
        "Members and repeat rate per tier as of 2026-04-01 01:00 UTC, computed with the "
        "figures for the last 7, 30, 90, 365 days."
    )
    services.rollup_refresh(shop=acme, now=NOW)
    with clock_at(NOW):
        html = client.get(URL, {"range": "30d"}, **auth(acme)).content.decode()
    assert table_rows(html, "tier-table")[1][6:] == ["1", "100.0%"]


def test_a_custom_range_up_to_the_cap_is_counted_live(client: Any, acme: Shop) -> None:
    # 31 days: 201's order of Mar 2 is outside (one left), 205 has one order (Apr 2)
    params = {"start": "2026-03-03", "end": "2026-04-02"}

    with clock_at(NOW), CaptureQueriesContext(connection) as queries:
        html = client.get(URL, params, **auth(acme)).content.decode()

    assert len(order_queries(queries)) == 1
    assert [r[6:] for r in table_rows(html, "tier-table")] == [
        ["1", "50.0%"],
        ["0", "0.0%"],
        ["0", "0.0%"],
        ["0", "0.0%"],
    ]
    assert read_page(html).find(id="tiers-counts-note").text() == (
        "Members and repeat rate per tier counted now for this range."
    )


def test_a_longer_custom_range_shows_members_only_and_says_why(client: Any, acme: Shop) -> None:
    params = {"start": "2026-03-02", "end": "2026-04-02"}  # 32 days

    with clock_at(NOW), CaptureQueriesContext(connection) as queries:
        html = client.get(URL, params, **auth(acme)).content.decode()
        export = client.get(URL + "export.csv", params, **auth(acme)).content.decode()

    assert order_queries(queries) == []
    assert [r[:3] + r[6:] for r in table_rows(html, "tier-table")] == [
        ["No tier", "2", "33.3%", "—", "—"],
        ["Silver", "1", "16.7%", "—", "—"],
        ["Gold", "2", "33.3%", "—", "—"],
        ["Bronze (archived)", "1", "16.7%", "—", "—"],
    ]
    assert read_page(html).find(id="tiers-counts-note").text() == (
        "The repeat rate per tier is computed for the last 7, 30, 90, 365 days and for other "
        "ranges of up to 31 days; for this 32-day range the table shows members now only."
    )
    rows = list(csv.reader(io.StringIO(export)))
    gold = next(r for r in rows if r and r[0] == "Gold")
    assert gold[1] == "2" and gold[6:] == ["", ""]


def test_query_count_of_a_preset_does_not_grow_with_data(client: Any, acme: Shop) -> None:
    with clock_at(NOW), CaptureQueriesContext(connection) as small:
        assert client.get(URL, {"range": "365d"}, **auth(acme)).status_code == 200
    t = TierData.__new__(TierData)
    t.shop, t.next_order, t.next_key = acme, 9000, 500
    t.tiers = {x.name: x for x in Tier.objects.filter(shop=acme)}
    t.members = {}
    for i in range(20):
        t.member(4000 + i, "Silver" if i % 2 else "Gold")
        t.order(4000 + i, at("2026-03-03"), "11.00", "Silver")
        t.order(4000 + i, at("2026-03-04"), "12.00", "Gold")
    services.rollup_refresh(shop=acme, now=NOW)
    assert LoyaltyOrder.objects.filter(shop=acme).count() == 49

    with clock_at(NOW), CaptureQueriesContext(connection) as big:
        assert client.get(URL, {"range": "365d"}, **auth(acme)).status_code == 200

    # the dashboard's 11, tier rules, the snapshot, revenue by tier, movements, the
    # archived tier's name
    assert len(small) == len(big) == 16
    assert order_queries(big) == []
