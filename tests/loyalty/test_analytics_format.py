"""The analytics page shows its figures formatted: money in the shop's currency and locale,
points with digit grouping, the right plural, each figure explained, and the plan price
asked for beside the ROI it feeds (not at the bottom of the page)."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty.analytics import services
from loyalty.analytics.models import AnalyticsSettings
from loyalty.models import LedgerEntry
from merchants.models import Shop
from tests.loyalty.page_reading import cells, kpi, read_page
from tests.loyalty.test_analytics import URL, Builder, at, auth
from tests.merchants.embedded_helpers import installed_shop

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def big_shop(db: None) -> Shop:
    """One customer, one order of 13910.98 that used a Beam code, 38692 points earned."""
    shop = installed_shop(iana_timezone="America/New_York", currency="USD")
    b = Builder(shop)
    b.member(201, at("2026-02-01"))
    b.order(201, at("2026-03-02"), "13910.98", code="BEAM-BIG")
    b.entry(201, 38692, LedgerEntry.Kind.ORDER_EARN, at("2026-03-02"))
    services.rollup_refresh(shop=shop)
    return shop


def test_money_points_and_plurals_are_formatted(client: Any, big_shop: Shop) -> None:
    html = client.get(URL, MARCH, **auth(big_shop)).content.decode()

    assert kpi(html, "loyalty_revenue")[:2] == [
        "$13,910.98",
        "1 order used a Beam reward · 100.0% of revenue",
    ]
    assert kpi(html, "revenue")[0] == "$13,910.98"
    assert "1 order placed" in kpi(html, "revenue")[1]
    assert kpi(html, "points_issued")[0] == "38,692"
    assert kpi(html, "liability")[0] == "38,692"
    assert (
        "Of the 1 customer whose first order fell in the range: 1 was a member"
        in kpi(html, "repeat_rate")[1]
    )
    assert kpi(html, "members_enrolled")[0] == "0"  # enrolled in February
    assert "$13,910.98" in cells(html)  # the data tables too
    assert "38,692" in cells(html)
    assert "13910.98" not in html.replace('value="13910.98"', "")
    assert "38692" not in html
    assert '<desc id="chart-points-desc">38,692 points issued and 0 redeemed.</desc>' in html


def test_every_figure_has_a_short_explanation(client: Any, big_shop: Shop) -> None:
    html = client.get(URL, MARCH, **auth(big_shop)).content.decode()

    for name, note in [
        ("members_enrolled", "Loyalty accounts opened in the range."),
        ("points_issued", "Earned on orders, welcome and bonus points, manual grants."),
        ("points_expired", "Taken back by the expiry policy."),
        ("aov", "Revenue ÷ orders, with and without a Beam reward."),
    ]:
        assert note in kpi(html, name)[1], name


def test_roi_asks_for_the_plan_price_beside_the_figure(client: Any, big_shop: Shop) -> None:
    AnalyticsSettings.objects.filter(shop=big_shop).delete()

    html = client.get(URL, MARCH, **auth(big_shop)).content.decode()

    assert kpi(html, "roi")[:2] == [
        "—",
        "Enter the monthly price you pay for Beam to see the return.",
    ]
    field = read_page(html).find(data_kpi="roi").find(id="plan-price")
    assert (field.tag, field.attrs["name"], field.attrs["placeholder"]) == (
        "input",
        "plan_price",
        "49.00",
    )
    assert html.count('id="plan-price"') == 1

    data = {**MARCH, "plan_price": "100.00"}
    saved = client.post(URL + "plan-price", data, HTTP_HX_REQUEST="true", **auth(big_shop))

    roi = kpi(saved.content.decode(), "roi")
    assert roi[0] == "134.63\u00d7"  # 13910.98 / (100 * 31 / 30 = 103.33)
    assert "plan cost of $103.33 for these 31 days" in roi[1]
    card = read_page(saved.content.decode()).find(data_kpi="roi")
    assert card.find(id="plan-price").attrs["value"] == "100.00"
    assert card.find(role="status").text() == "Saved."
