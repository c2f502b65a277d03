"""Branding reaches the store: a save publishes the launcher's look to Beam's app data on the
store (the devstore answers the Admin API in-process), the store's launcher embed renders it,
and a publication the platform refused is shown to the merchant and retried by the sweep."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client

from devstore.models import DevMetafield, DevShop
from loyalty import services, tasks
from loyalty.models import LoyaltyProgram
from tests.devstore_install import beam_install
from tests.loyalty.admin_helpers import AdminClient

pytestmark = pytest.mark.django_db

SHOP = "brand-acme.myshopify.com"
LOOK = {
    "primary_color": "#ff0000",
    "position": "bottom-left",
    "shape": "circle",
    "launcher_label": "Perks club",
}


@pytest.fixture
def shop(platform_http):
    dev = DevShop.objects.create(domain=SHOP, shop_id=7_100_001, name="Brand Acme")
    shop = beam_install(dev, name="Brand Acme")
    LoyaltyProgram.objects.create(shop=shop)
    return shop


def _save(shop, django_capture_on_commit_callbacks, **look) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.branding_update(shop=shop, actor="1", branding={**look})


def _launcher(shop) -> str:
    html = Client().get(f"/devstore/{shop.domain}/").content.decode()
    start = html.index('<div id="beam-root"')
    return html[start : html.index(">", start)]


def test_a_saved_look_reaches_the_stores_launcher(shop, django_capture_on_commit_callbacks):
    assert 'data-color="#4f46e5"' in _launcher(shop)  # nothing published yet: the defaults

    _save(shop, django_capture_on_commit_callbacks, **LOOK)

    stored = DevMetafield.objects.get(shop__domain=SHOP, namespace="loyalty", key="branding")
    assert (stored.owner_gid, stored.type) == ("gid://shopify/AppInstallation/7100001", "json")
    assert json.loads(stored.value)["primary_color"] == "#ff0000"
    launcher = _launcher(shop)
    for attribute in (
        'data-color="#ff0000"',
        'data-position="bottom-left"',
        'data-shape="circle"',
        'data-label="Perks club"',
    ):
        assert attribute in launcher
    program = LoyaltyProgram.objects.get(shop=shop)
    assert not program.branding_publish_pending
    assert program.branding_published_at is not None


def test_a_refused_publication_is_shown_and_retried_by_the_sweep(
    shop, platform_http, django_capture_on_commit_callbacks
) -> None:
    graphql = f"http://beam.test/devstore/{SHOP}/admin/api/2026-10/graphql.json"
    platform_http.add("POST", graphql, status=503, body="down")

    _save(shop, django_capture_on_commit_callbacks, **LOOK)

    program = LoyaltyProgram.objects.get(shop=shop)
    assert program.branding_publish_pending
    assert "503" in program.branding_publish_error
    page = AdminClient(shop).get("/admin/branding/").content.decode()
    assert "Your store still shows the previous look." in page
    assert tasks.branding_publish_sweep() == 0  # within the minute: the task's own retries

    LoyaltyProgram.objects.filter(pk=program.pk).update(
        updated_at=program.updated_at - timedelta(minutes=2)
    )
    platform_http.remove("POST", graphql)
    assert tasks.branding_publish_sweep() == 1

    assert 'data-color="#ff0000"' in _launcher(shop)
    program.refresh_from_db()
    assert (program.branding_publish_pending, program.branding_publish_error) == (False, "")
    assert "previous look" not in AdminClient(shop).get("/admin/branding/").content.decode()
