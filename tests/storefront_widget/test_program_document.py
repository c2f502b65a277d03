"""One program document: the store's app proxy, the admin's live preview and the UI
extensions show the same rewards, ids, prices and texts, and a merchant's edit shows up
identically everywhere (``loyalty.selectors.program_document``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import BonusEvent, Reward
from tests.loyalty.admin_helpers import AdminClient
from tests.storefront_widget.extension_helpers import bearer

pytestmark = pytest.mark.django_db

EARNING = {
    "points_per_currency_unit": "2",
    "rounding": "down",
    "excluded_product_ids": "",
    "excluded_product_tags": "",
    "earn_trigger": "paid",
    "pending_days": "0",
    "welcome_points": "150",
    "negative_balance_policy": "allow_negative",
    "minimum_order_amount": "0",
    "guest_link_window_days": "30",
}


def preview_document(admin: AdminClient) -> dict:
    """The program document the branding page's preview frame reads."""
    page = admin.get(reverse("loyalty_admin:branding")).content.decode()
    frame_url = page.split('id="beam-preview-frame"')[1].split('src="')[1].split('"')[0]
    response = admin.client.get(f"{frame_url}api/program")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def admin(shop) -> AdminClient:
    return AdminClient(shop, user_id="77")


@pytest.fixture
def bonus(shop, program) -> BonusEvent:
    now = timezone.now()
    return BonusEvent.objects.create(
        shop=shop,
        name="Double week",
        multiplier=Decimal("2"),
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=6),
    )


def test_the_preview_shows_exactly_the_stores_document(proxy, admin, program, rewards, bonus):
    store = proxy.get("api/program").json()

    preview = preview_document(admin)

    assert preview == store
    assert [r["id"] for r in preview["rewards"]] == [
        str(rewards["credit"].pk),
        str(rewards["five"].pk),
        str(rewards["twenty"].pk),
    ]
    assert preview["texts"] == {"fr": {"title": "Club des grains"}}
    assert [w["key"] for w in preview["earning"]] == ["order", "signup", f"bonus-{bonus.pk}"]


def test_a_merchants_edit_shows_identically_in_the_store_and_the_preview(
    proxy, admin, program, rewards
):
    five = rewards["five"]
    edited = admin.post(
        reverse("loyalty_admin:reward_edit", args=[five.pk]),
        {
            "name": "€6 off",
            "kind": "fixed_amount",
            "points_cost": "600",
            "value": "6",
            "code_valid_days": "30",
            "active": "on",
        },
    )
    earning = admin.post(reverse("loyalty_admin:earning"), EARNING)
    assert (edited.status_code, earning.status_code) == (204, 200)

    store = proxy.get("api/program").json()
    preview = preview_document(admin)

    assert preview == store
    assert store["earning"][0]["description"] == "2 points for every 1 EUR spent"
    assert store["earning"][1]["points_label"] == "150 points"
    assert [r["title"] for r in store["rewards"]] == ["Points discount", "€6 off", "€20 off"]
    assert store["rewards"][1] == {
        "id": str(five.pk),
        "title": "€6 off",
        "kind": "fixed_amount",
        "points_cost": 600,
        "value": "6.00",
        "currency": "EUR",
        "min_subtotal": "0.00",
        "variable": None,
        "tier": None,
    }


def test_the_preview_changes_only_the_branding_of_a_draft(proxy, admin, program, rewards):
    draft = admin.post(
        reverse("loyalty_admin:branding_preview"),
        {
            "program_name": "Perks club",
            "primary_color": "#ff0000",
            "text_color": "#ffffff",
            "position": "bottom-left",
            "shape": "pill",
            "icon": "star",
            "launcher_label": "Perks",
            "points_name": "beans",
            "show_on_mobile": "on",
            "languages": ["en"],
        },
    ).content.decode()
    frame_url = draft.split('id="beam-preview-frame"')[1].split('src="')[1].split('"')[0]

    preview = admin.client.get(f"{frame_url}api/program").json()
    store = proxy.get("api/program").json()

    assert preview["branding"]["primary_color"] == "#ff0000"
    assert preview["branding"]["program_name"] == "Perks club"
    assert store["branding"]["program_name"] == "Bean Club"
    assert {k: v for k, v in preview.items() if k != "branding"} == {
        k: v for k, v in store.items() if k != "branding"
    }


def test_the_extensions_offer_the_documents_rewards(
    client, proxy, shop, member, rewards, give_points
):
    give_points(member, 700)
    credit = Reward.objects.create(
        shop=shop, name="Credit", kind=Reward.Kind.STORE_CREDIT, points_cost=300, value=3
    )
    store = proxy.get("api/program").json()
    by_id = {r["id"]: r for r in store["rewards"]}
    headers = bearer(shop.domain, member.customer_id)

    account = client.get("/ext/customer", headers=headers).json()["rewards"]
    checkout = client.post(
        "/ext/checkout/summary",
        data={"lines": [{"quantity": 1, "total": "10.00"}]},
        content_type="application/json",
        headers=headers,
    ).json()["rewards"]

    assert [o["id"] for o in account] == [r["id"] for r in store["rewards"]]
    assert [o["id"] for o in checkout] == [
        r["id"] for r in store["rewards"] if r["id"] != str(credit.pk)
    ]
    for offer in account:
        document = by_id[offer["id"]]
        shared = {k: offer[k] for k in document if k != "value"}
        assert shared == {k: v for k, v in document.items() if k != "value"}
        assert offer["name"] == document["title"]
    slider = next(o for o in account if o["kind"] == "variable")
    assert (slider["variable_points"], slider["points"], slider["value"]) == (700, 700, "7.00")
    five = next(o for o in account if o["id"] == str(rewards["five"].pk))
    assert (five["points"], five["value"], five["affordable"]) == (500, "5.00", True)
    twenty = next(o for o in account if o["id"] == str(rewards["twenty"].pk))
    assert (twenty["points"], twenty["affordable"]) == (2000, False)
