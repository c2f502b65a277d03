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


def kpi(html: str, name: str) -> str:
    start = html.index(f'data-kpi="{name}"')
    return html[start : html.index("</div>", start)]


def test_money_points_and_plurals_are_formatted(client: Any, big_shop: Shop) -> None:
    html = client.get(URL, MARCH, **auth(big_shop)).content.decode()

    revenue = kpi(html, "loyalty_revenue")
    assert "<dd>$13,910.98</dd>" in revenue
    assert "1 order used a Beam reward · 100.0% of revenue" in revenue
    assert "<dd>$13,910.98</dd>" in kpi(html, "revenue")
    assert "1 order placed" in kpi(html, "revenue")
    assert "<dd>38,692</dd>" in kpi(html, "points_issued")
    assert "<dd>38,692</dd>" in kpi(html, "liability")
    assert "Of the 1 customer whose first order fell in the range: 1 was a member" in kpi(
        html, "repeat_rate"
    )
    assert "<dd>0</dd>" in kpi(html, "members_enrolled")  # enrolled in February
    assert "<td>$13,910.98</td>" in html  # the data tables too
    assert "<td>38,692</td>" in html
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
        assert note in kpi(html, name), name


def test_roi_asks_for_the_plan_price_beside_the_figure(client: Any, big_shop: Shop) -> None:
    AnalyticsSettings.objects.filter(shop=big_shop).delete()

    html = client.get(URL, MARCH, **auth(big_shop)).content.decode()

    roi = kpi(html, "roi")
    assert "<dd>—</dd>" in roi
    assert "Enter the monthly price you pay for Beam to see the return." in roi
    assert 'id="plan-price"' in roi and 'placeholder="49.00"' in roi
    assert html.count('id="plan-price"') == 1

    data = {**MARCH, "plan_price": "100.00"}
    saved = client.post(URL + "plan-price", data, HTTP_HX_REQUEST="true", **auth(big_shop))

    roi = kpi(saved.content.decode(), "roi")
    assert "<dd>134.63\u00d7</dd>" in roi  # 13910.98 / (100 * 31 / 30 = 103.33)
    assert "plan cost of $103.33 for these 31 days" in roi
    assert 'value="100.00"' in roi and "Saved." in roi
