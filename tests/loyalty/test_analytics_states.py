"""The analytics page before its figures exist and where a range has nothing to chart: a
skeleton (not a page of zeros) while the first rollup is being computed, and an empty state
saying what will appear in place of each chart with no data."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty.analytics import services
from loyalty.analytics.models import RollupState
from merchants.models import Shop
from tests.loyalty.page_reading import kpi, kpi_names, read_page
from tests.loyalty.test_analytics import URL, auth, dataset
from tests.merchants.embedded_helpers import installed_shop

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def shop(db: None) -> Shop:
    shop = installed_shop(iana_timezone="America/New_York", currency="EUR")
    dataset(shop)
    return shop


def test_figures_still_being_computed_show_a_skeleton_not_zeros(
    client: Any, shop: Shop, settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the refresh is queued; no worker ran it yet

    response = client.get(URL, MARCH, **auth(shop))

    assert response.status_code == 200
    html = response.content.decode()
    assert not RollupState.objects.filter(shop=shop).exists()
    page = read_page(html)
    assert "Figures are being prepared; they appear within a few minutes." in page.text()
    assert page.find(id="beam-analytics-preparing").attrs["aria-busy"] == "true"
    assert page.find_all(class_="Polaris-SkeletonBodyText")
    assert kpi_names(html) == []
    assert "beam-chart" not in html and "€0.00" not in html
    assert page.find("input", name="start").attrs["value"] == "2026-03-01"  # range still set
    assert page.find("a", download=True).text() == "Export CSV"


def test_a_range_without_data_shows_empty_states_instead_of_charts(client: Any, shop: Shop) -> None:
    services.rollup_refresh(shop=shop)

    html = client.get(URL, {"start": "2025-01-01", "end": "2025-01-31"}, **auth(shop))
    html = html.content.decode()

    page = read_page(html)
    assert page.find_all("svg", class_="beam-chart") == []
    assert [
        e.find(class_="Polaris-Text--headingMd").text() for e in page.find_all(class_="beam-empty")
    ] == [
        "No orders in this range",
        "No points activity in this range",
        "No orders in this range",
        "No new customers in this range",
        "No new customers in this range",
    ]
    for table in ("aov-table", "repeat-rate-table", "repeat-table"):
        assert page.find_all(id=table) == []
    assert kpi(html, "revenue")[0] == "€0.00"  # the figures themselves are real zeros


def test_a_range_with_data_charts_it(client: Any, shop: Shop) -> None:
    services.rollup_refresh(shop=shop)

    page = read_page(client.get(URL, MARCH, **auth(shop)).content.decode())

    assert page.find_all(class_="beam-empty") == []
    assert [svg.attrs["id"] for svg in page.find_all("svg", class_="beam-chart")] == [
        "chart-revenue",
        "chart-points",
        "chart-aov",
        "chart-repeat",
        "chart-probability",
    ]
