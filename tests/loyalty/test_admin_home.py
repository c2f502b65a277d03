"""Home as a dashboard: the program's state, a setup checklist with progress, the last 30
days' key figures (formatted in the shop's currency) and recent points activity."""

from __future__ import annotations

import re

import pytest

from loyalty.models import Member
from loyalty.services import points_adjust
from tests.loyalty.admin_helpers import AdminClient, admin_shop, reads
from tests.loyalty.test_admin_config import WIZARD_DEFAULTS

pytestmark = pytest.mark.django_db


def test_a_new_shop_gets_a_checklist_and_empty_states() -> None:
    client = AdminClient(admin_shop(), user_id="77")

    home = client.get("/admin/", htmx=False).content.decode()

    assert "Set up and launch in two minutes" in home
    assert "0 of 5 done" in home
    assert re.search(r'<a [^>]*href="/admin/welcome/">Launch the program</a>', home)
    assert reads(home, "Points issued", "0<")
    assert reads(home, "Loyalty revenue", "$0.00")
    assert "No points activity yet" in home


def test_home_follows_the_merchant_and_the_shoppers() -> None:
    shop = admin_shop()
    client = AdminClient(shop, user_id="77")
    client.post("/admin/welcome/", {**WIZARD_DEFAULTS, "confirm": "1"})
    member = Member.objects.create(shop=shop, customer_id=501, email="jane@example.com")
    points_adjust(
        shop=shop, member=member, amount=1250, reason="Goodwill", actor="77", idempotency_key="g"
    )

    home = client.get("/admin/", htmx=False).content.decode()

    assert "Your program is live since" in home
    # launched, rewards, branding (the wizard saved it), a member: only publishing is left
    assert "4 of 5 done" in home
    assert re.search(r"<s[^>]*>Launch the program</s>", home)
    assert re.search(r"<s[^>]*>Welcome your first member</s>", home)
    assert re.search(r'<a [^>]*href="/admin/branding/">Show it on your store</a>', home)
    assert reads(home, "jane@example.com: Adjustment", "Success", "+1250")
