"""Tiers in the admin's other pages: the reward form's tier (only while tiers are on), and
members created by a CSV import getting the new-member grant like any new member."""

from __future__ import annotations

import re

import pytest

from loyalty.models import AuditEvent, LoyaltyProgram, Member, Reward, Tier, TierChange, TierSync
from loyalty.services.tiers_draft import TierDraft, tier_draft_current
from loyalty.services.tiers_recompute import tier_settings_save
from tests.loyalty.admin_helpers import AdminClient, admin_shop, elements
from tests.loyalty.tier_helpers import tiers_setup

pytestmark = pytest.mark.django_db

REWARD = {
    "name": "VIP lunch",
    "kind": "fixed_amount",
    "points_cost": "300",
    "value": "15.00",
    "code_valid_days": "30",
    "combines_with_shipping": "on",
    "active": "on",
}


@pytest.fixture
def shop():  # type: ignore[no-untyped-def]
    shop = admin_shop()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


@pytest.fixture
def client(shop) -> AdminClient:  # type: ignore[no-untyped-def]
    return AdminClient(shop, user_id="77")


def options(html: str, name: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def test_the_reward_form_has_no_tier_while_tiers_are_off(shop, client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/admin/rewards/new").content.decode()
    assert 'data-field="min_tier"' not in html
    assert elements(html, "select", name="min_tier") == []


def test_a_reward_made_tier_exclusive_from_the_form(shop, client) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    html = client.get("/admin/rewards/new").content.decode()
    assert options(html, "min_tier") == [
        ("", "Every member"),
        (str(tiers["Silver"].pk), "Silver members and above"),
        (str(tiers["Gold"].pk), "Gold members and above"),
    ]

    response = client.post("/admin/rewards/new", {**REWARD, "min_tier": str(tiers["Gold"].pk)})

    assert response.status_code in (200, 204, 302), response.content[:300]
    reward = Reward.objects.get(shop=shop, name="VIP lunch")
    assert reward.min_tier_id == tiers["Gold"].pk
    event = AuditEvent.objects.get(shop=shop, action="reward.create")
    assert event.changes["min_tier_id"] == [None, tiers["Gold"].pk]
    edit = client.get(f"/admin/rewards/{reward.pk}/").content.decode()
    assert re.search(rf'<option value="{tiers["Gold"].pk}"[^>]*selected', edit)

    # back to everyone
    client.post(f"/admin/rewards/{reward.pk}/", {**REWARD, "min_tier": ""})
    reward.refresh_from_db()
    assert reward.min_tier_id is None


def test_a_tier_of_another_shop_is_refused_and_nothing_is_saved(shop, client) -> None:  # type: ignore[no-untyped-def]
    tiers_setup(shop)
    other = tiers_setup(admin_shop("other-shop.myshopify.com"))

    response = client.post("/admin/rewards/new", {**REWARD, "min_tier": str(other["Gold"].pk)})

    assert response.status_code == 422
    assert not Reward.objects.filter(shop=shop).exists()


def test_saving_a_reward_while_tiers_are_off_keeps_its_tier(shop, client) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop)
    reward = Reward.objects.create(
        shop=shop, name="VIP lunch", kind="fixed_amount", points_cost=300, value=15
    )
    Reward.objects.filter(pk=reward.pk).update(min_tier=tiers["Gold"])
    draft = tier_draft_current(shop=shop)
    tier_settings_save(
        shop=shop, draft=TierDraft(**{**draft.__dict__, "enabled": False}), actor="t"
    )

    client.post(f"/admin/rewards/{reward.pk}/", {**REWARD, "name": "VIP dinner"})

    reward.refresh_from_db()
    assert (reward.name, reward.min_tier_id) == ("VIP dinner", tiers["Gold"].pk)


def test_a_reward_of_an_archived_tier_keeps_it_when_saved(shop, client) -> None:  # type: ignore[no-untyped-def]
    """Its tier is offered as it is (marked archived): saving the reward for another change
    does not open it to every member."""
    tiers = tiers_setup(shop)
    reward = Reward.objects.create(
        shop=shop, name="VIP lunch", kind="fixed_amount", points_cost=300, value=15
    )
    Reward.objects.filter(pk=reward.pk).update(min_tier=tiers["Gold"])
    Tier.objects.filter(pk=tiers["Gold"].pk).update(active=False)

    edit = client.get(f"/admin/rewards/{reward.pk}/").content.decode()
    assert (str(tiers["Gold"].pk), "Gold (archived tier)") in options(edit, "min_tier")
    assert re.search(rf'<option value="{tiers["Gold"].pk}"[^>]*selected', edit)
    client.post(
        f"/admin/rewards/{reward.pk}/",
        {**REWARD, "name": "VIP dinner", "min_tier": str(tiers["Gold"].pk)},
    )

    reward.refresh_from_db()
    assert (reward.name, reward.min_tier_id) == ("VIP dinner", tiers["Gold"].pk)
    new = client.get("/admin/rewards/new").content.decode()
    assert "archived" not in " ".join(label for _, label in options(new, "min_tier"))


CSV = "customer_id,email,first_name,last_name,points\n1001,ann@example.com,Ann,Lee,250\n"


def test_an_import_gives_the_members_it_creates_the_new_member_grant(shop, client) -> None:  # type: ignore[no-untyped-def]
    tiers = tiers_setup(shop, new_member_days=30)
    from loyalty.models import TierSettings

    TierSettings.objects.filter(shop=shop).update(new_member_tier=tiers["Gold"])
    Member.objects.create(shop=shop, customer_id=1002)  # an existing member gets nothing

    client.post(
        "/admin/customers/import/apply",
        {"csv_text": CSV + "1002,bo@example.com,Bo,Lee,10\n"},
    )

    ann = Member.objects.get(shop=shop, customer_id=1001)
    assert (ann.tier_id, ann.granted_tier_id) == (tiers["Gold"].pk, tiers["Gold"].pk)
    assert ann.grant_ends_at is not None
    assert list(TierChange.objects.filter(member=ann).values_list("reason", "to_name")) == [
        ("granted", "Gold")
    ]
    assert TierSync.objects.filter(member=ann, pending=True).exists()  # on its way to the store
    bo = Member.objects.get(shop=shop, customer_id=1002)
    assert (bo.tier_id, bo.granted_tier_id) == (None, None)

    client.post("/admin/customers/import/apply", {"csv_text": CSV})  # again: nothing new
    assert TierChange.objects.filter(member=ann).count() == 1
