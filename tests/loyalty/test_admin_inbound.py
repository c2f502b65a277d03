"""The Ways to earn page's API key card (created and rotated, shown once, audited) and the
custom action form (validated, audited, the new action listed off)."""

from __future__ import annotations

import re

import pytest

from loyalty.models import AuditEvent, EarningAction
from merchants.inbound_keys import url_token
from merchants.models import ShopApiKey
from tests.loyalty.admin_helpers import AdminClient, admin_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return admin_shop()


@pytest.fixture
def client(shop):
    return AdminClient(shop, user_id="77")


def test_the_page_offers_to_create_a_key_when_there_is_none(client):
    html = client.get("/admin/earning/").content.decode()
    assert 'id="beam-api-key-empty"' in html
    assert "Create API key" in html
    assert 'id="beam-custom-action-add"' in html


def test_creating_and_rotating_the_key_shows_it_once(client, shop):
    response = client.post("/admin/earning/api-key", {})
    assert response.status_code == 200
    html = response.content.decode()
    key = re.search(r'id="beam-api-key-value">([^<]+)<', html).group(1)
    assert key.startswith("beam_sk_")
    assert url_token(key) in html  # the Judge.me URL
    row = ShopApiKey.objects.get(shop=shop)
    assert row.hint == key[-4:] and key not in row.key_encrypted

    later = client.get("/admin/earning/").content.decode()
    assert key not in later and f"…{row.hint}" in later and "Rotate key" in later

    rotated = client.post("/admin/earning/api-key", {}).content.decode()
    new_key = re.search(r'id="beam-api-key-value">([^<]+)<', rotated).group(1)
    assert new_key != key and "previous key keeps working" in rotated
    events = AuditEvent.objects.filter(shop=shop, target_type="api_key").order_by("pk")
    assert list(events.values_list("action", flat=True)) == ["api_key.create", "api_key.rotate"]
    assert all(e.actor and key not in e.summary for e in events)


def test_a_custom_action_is_added_off_and_audited(client, shop):
    response = client.post(
        "/admin/earning/custom-actions", {"name": "quiz-done", "points": "40", "limit": "day"}
    )
    assert response.status_code == 200
    action = EarningAction.objects.get(shop=shop, kind="custom")
    assert (action.name, action.points, action.limit, action.enabled) == (
        "quiz-done",
        40,
        "day",
        False,
    )
    assert AuditEvent.objects.filter(shop=shop, action="earning_action.update").count() == 1
    assert 'id="beam-action-custom-quiz-done-title">quiz-done<' in response.content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "bad name", "points": "40", "limit": "day"}, "Letters, digits"),
        ({"name": "ok", "points": "-1", "limit": "day"}, "greater than or equal"),
        ({"name": "ok", "points": "40", "limit": "weekly"}, "Select a valid choice"),
    ],
)
def test_a_bad_custom_action_is_refused_with_the_reason(client, shop, data, error):
    response = client.post("/admin/earning/custom-actions", data)
    assert response.status_code == 422
    assert error in response.content.decode()
    assert not EarningAction.objects.filter(shop=shop).exists()


def test_a_custom_action_name_is_unique(client, shop):
    data = {"name": "quiz-done", "points": "40", "limit": "day"}
    client.post("/admin/earning/custom-actions", data)
    again = client.post("/admin/earning/custom-actions", {**data, "points": "5"})
    assert again.status_code == 422
    assert "exists" in again.content.decode()
    assert EarningAction.objects.get(shop=shop).points == 40
