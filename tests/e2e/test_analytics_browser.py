"""The analytics page in a real Chromium, inside the devstore's embedded-admin frame.

The devstore admin frames Beam like the store admin does (signed query + ``id_token``);
the test opens the analytics page in that frame (a document load without a token bounces
for a fresh one from the frame's App Bridge stand-in), sees the KPI cards and the five SVG
charts, changes the range through htmx (token added by ``session.js``) to one with nothing to
chart (empty states), and keeps a screenshot in ``tests/artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from loyalty.analytics import services
from tests.devstore.factories import DevShopFactory
from tests.e2e.admin_nav import beam
from tests.loyalty.test_analytics import dataset
from tests.merchants.embedded_helpers import SHOP, installed_shop

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def embedded_store(transactional_db: None, live_beam: str) -> Iterator[str]:
    """Beam installed in the devstore shop, served by ``live_server``; the analytics data of
    the hand-computed dataset, rolled up."""
    DevShopFactory(domain=SHOP, name="Acme", currency="EUR")
    shop = installed_shop(SHOP, iana_timezone="America/New_York", currency="EUR")
    dataset(shop)
    services.rollup_refresh(shop=shop)
    yield live_beam


def test_merchant_opens_analytics_and_sees_the_charts(page: Page, embedded_store: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{embedded_store}/devstore/{SHOP}/admin/apps/beam")
    app = beam(page)
    expect(app.locator("h1")).to_contain_text("Beam for")

    frame = next(f for f in page.frames if f.parent_frame is not None)
    frame.goto(f"{embedded_store}/admin/analytics/?shop={SHOP}&start=2026-03-01&end=2026-03-31")

    expect(app.locator("h1")).to_have_text("Analytics")
    expect(app.locator("svg.beam-chart")).to_have_count(5)
    expect(app.locator("#chart-revenue polyline")).to_have_count(2)
    expect(app.locator("#chart-revenue-title")).to_have_text("Revenue per day (EUR)")
    expect(app.locator("[data-kpi=loyalty_revenue] dd").first).to_have_text("€300.00")
    expect(app.locator("[data-kpi=loyalty_revenue] dd").nth(1)).to_have_text(
        "2 orders used a Beam reward · 50.4% of revenue"
    )
    expect(app.locator("[data-kpi=revenue] dd").first).to_have_text("€595.00")
    expect(app.locator("[data-kpi=liability] dd").first).to_have_text("1,275")
    expect(app.locator("[data-kpi=top5] dd").nth(1)).to_have_text("1 customer, €200.00")
    expect(app.locator("[data-kpi=roi] dd").first).to_have_text("10.01\u00d7")
    expect(app.locator("[data-kpi=roi] #plan-price")).to_have_value("29.00")
    expect(app.locator("#repeat-table tbody tr")).to_have_count(10)
    expect(app.locator("#repeat-table tbody tr").first).to_contain_text("60.0%")
    box = app.locator("#chart-revenue").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-march.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 2900})  # the frame shows every chart
    page.screenshot(path=str(ARTIFACTS / "analytics-march-full.png"))
    page.set_viewport_size({"width": 1280, "height": 720})

    with page.expect_download() as download_info:  # fetched with the session token
        app.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == "beam-analytics-2026-03-01-2026-03-31.csv"
    exported = Path(download.path()).read_text()
    assert "revenue,595.00,EUR" in exported and "roi,10.01,x" in exported

    app.get_by_role("link", name="Last 90 days").click()  # htmx swap with a session token
    expect(app.locator("a[aria-current=true]")).to_have_text("Last 90 days")
    # The dataset is in March: the last 90 days have nothing to chart, and say so.
    expect(app.get_by_text("No orders in this range")).to_have_count(2)
    expect(app.get_by_text("No new customers in this range")).to_have_count(2)
    expect(app.locator("svg.beam-chart")).to_have_count(0)
    expect(app.locator("[data-kpi=revenue] dd").first).to_have_text("€0.00")
    assert re.search(r"range=90d", frame.url)

    app.locator("#plan-price").fill("-1")
    app.get_by_role("button", name="Save").click()
    expect(app.locator("#plan-error")).to_have_text("The plan price must be between 0 and 100000.")
    app.locator("#plan-price").fill("310")  # 310 * 90 / 30 = 930.00
    app.get_by_role("button", name="Save").click()
    expect(app.locator("[data-kpi=roi] [role=status]")).to_have_text("Saved.")
    expect(app.locator("[data-kpi=roi] dd").nth(1)).to_contain_text("plan cost of €930.00")
    page.screenshot(path=str(ARTIFACTS / "analytics-90d.png"), full_page=True)
    assert errors == []
