"""Tenancy of the embedded admin: a merchant of shop A, authenticated, can never read or
change shop B's data through any admin URL. Every route of ``loyalty.admin_urls`` is listed
below (a test fails when a new route is not), requested as A with B's ids and B's markers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from loyalty import admin_urls
from loyalty.models import (
    AuditEvent,
    BonusEvent,
    EarningAction,
    LedgerEntry,
    LoyaltyProgram,
    Member,
    Redemption,
    Referral,
    ReferralSettings,
    Reward,
    Tier,
    TierChange,
    TierPreview,
    TierRecompute,
    TierSettings,
)
from loyalty.services import points_adjust
from loyalty.services.tier_grants import tier_grant
from loyalty.services.tiers_draft import tier_draft_current
from loyalty.services.tiers_preview import tier_draft_json
from merchants.models import ShopApiKey, WebhookDelivery
from tests.loyalty.admin_helpers import SHOP_A, SHOP_B, AdminClient, admin_shop
from tests.loyalty.tier_helpers import tiers_setup

pytestmark = pytest.mark.django_db

B_MARKERS = (
    "Bravo secret reward",
    "secret@bravo.test",
    "Bravo double days",
    "bravo-topic-err",
    "Bravo Elite",
    "friend@bravo.test",
)


@pytest.fixture
def world() -> dict[str, Any]:
    a, b = admin_shop(SHOP_A), admin_shop(SHOP_B)
    LoyaltyProgram.objects.create(shop=a)
    LoyaltyProgram.objects.create(shop=b, branding={"program_name": "Bravo Club"})
    reward_b = Reward.objects.create(
        shop=b, name="Bravo secret reward", kind="fixed_amount", points_cost=100, value=5
    )
    EarningAction.objects.create(shop=b, kind="birthday", points=100, limit="year")
    event_b = BonusEvent.objects.create(
        shop=b,
        name="Bravo double days",
        multiplier=Decimal("2"),
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=2),
    )
    member_b = Member.objects.create(
        shop=b, customer_id=555, email="secret@bravo.test", first_name="Bea"
    )
    points_adjust(
        shop=b, member=member_b, amount=300, reason="seed", actor="9", idempotency_key="seed"
    )
    redemption_b = Redemption.objects.create(
        shop=b,
        member=member_b,
        reward=reward_b,
        points_spent=100,
        value=Decimal("5"),
        currency="USD",
        code="BRAVO-1",
        status="issued",
        client_key="k",
        expires_at=timezone.now() + timedelta(days=30),
    )
    delivery_b = WebhookDelivery.objects.create(
        shop=b,
        webhook_id="wh-b-1",
        topic="orders/paid",
        payload={"id": 1},
        status="failed",
        attempts=5,
        last_error="bravo-topic-err",
    )
    member_a = Member.objects.create(shop=a, customer_id=111, email="alice@acme.test")
    ReferralSettings.objects.create(shop=b, enabled=True, offer_value=Decimal("7"))
    referral_b = Referral.objects.create(
        shop=b,
        advocate=member_b,
        friend_email="friend@bravo.test",
        friend_key="friend@bravo.test",
        status="blocked",
        reason="similar_email",
    )
    tier_a, tier_b = tiers_setup(a)["Gold"], tiers_setup(b)["Gold"]
    tier_grant(shop=b, customer_ids=[555], tier_id=tier_b.pk, days=9, actor="9", key="seed")
    # B's tiers carry a name that must never show on A's pages.
    Tier.objects.filter(shop=b, name="Silver").update(name="Bravo Elite")
    recompute_b = TierRecompute.objects.create(shop=b, status="running", total=1)
    # B's review, ready and not stale: applied through A it would change B's settings.
    saved_b = tier_draft_json(tier_draft_current(shop=b))
    preview_b = TierPreview.objects.create(
        shop=b,
        status="done",
        draft={**saved_b, "grace_periods": 3},
        base=saved_b,
        counts={"up": 0, "down": 0, "grant_lost": 0, "unchanged": 1},
    )
    return {
        "referral_b": referral_b,
        "preview_b": preview_b,
        "tier_a": tier_a,
        "tier_b": tier_b,
        "recompute_b": recompute_b,
        "a": a,
        "b": b,
        "reward_b": reward_b,
        "event_b": event_b,
        "member_b": member_b,
        "redemption_b": redemption_b,
        "delivery_b": delivery_b,
        "member_a": member_a,
    }


def b_state(world: dict[str, Any]) -> dict[str, Any]:
    b = world["b"]
    return {
        "program": model_to_dict(LoyaltyProgram.objects.get(shop=b)),
        "rewards": [model_to_dict(r) for r in Reward.objects.filter(shop=b).order_by("pk")],
        "events": [model_to_dict(e) for e in BonusEvent.objects.filter(shop=b).order_by("pk")],
        "members": list(
            Member.objects.filter(shop=b)
            .order_by("pk")
            .values_list("pk", "balance", "email", "tier_id", "granted_tier_id", "grant_ends_at")
        ),
        "tier_changes": TierChange.objects.filter(shop=b).count(),
        "ledger": LedgerEntry.objects.filter(shop=b).count(),
        "redemptions": list(
            Redemption.objects.filter(shop=b).values_list("pk", "status", "points_spent")
        ),
        "deliveries": list(
            WebhookDelivery.objects.filter(shop=b).values_list("pk", "status", "attempts")
        ),
        "audit": AuditEvent.objects.filter(shop=b).count(),
        "api_key": list(ShopApiKey.objects.filter(shop=b).values_list("key_encrypted", flat=True)),
        "earning_actions": list(
            EarningAction.objects.filter(shop=b).values_list("kind", "network", "enabled", "points")
        ),
        "tiers": list(Tier.objects.filter(shop=b).values_list("pk", "name", "threshold", "active")),
        "recomputes": list(TierRecompute.objects.filter(shop=b).values_list("pk", "status")),
        "previews": list(TierPreview.objects.filter(shop=b).values_list("pk", "status", "draft")),
        "tier_settings": list(TierSettings.objects.filter(shop=b).values()),
        "referral_settings": list(ReferralSettings.objects.filter(shop=b).values()),
        "referrals": list(Referral.objects.filter(shop=b).values()),
    }


# (route name, method, kwargs from the world, POST data): B's ids where a route takes ids.
ROUTES: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("onboarding", "get", None, {}),
    (
        "onboarding",
        "post",
        None,
        {
            "points_per_currency_unit": "3",
            "welcome_points": "50",
            "starter_rewards": ["0", "1"],
            "program_name": "Acme Club",
            "primary_color": "#112233",
            "position": "bottom-left",
            "enabled": "on",
        },
    ),
    ("program_toggle", "post", None, {"enabled": "0"}),
    ("earning", "get", None, {}),
    (
        "earning",
        "post",
        None,
        {
            "points_per_currency_unit": "7",
            "rounding": "up",
            "minimum_order_amount": "0",
            "earn_trigger": "paid",
            "pending_days": "3",
            "welcome_points": "10",
            "negative_balance_policy": "allow_negative",
            "guest_link_window_days": "30",
        },
    ),
    (
        "earning_action_save",
        "post",
        None,
        {
            "action": "birthday",
            "birthday-enabled": "on",
            "birthday-points": "500",
            "birthday-limit": "year",
        },
    ),
    ("custom_action_add", "post", None, {"name": "quiz-a", "points": "10", "limit": "once"}),
    ("api_key_rotate", "post", None, {}),
    ("expiry", "get", None, {}),
    (
        "expiry",
        "post",
        None,
        {"expiry_enabled": "on", "expiry_days": "365", "expiry_warning_days": "10"},
    ),
    ("bonus_events", "get", None, {}),
    (
        "bonus_events",
        "post",
        None,
        {"multiplier": "3", "starts_at": "2030-01-01T00:00", "ends_at": "2030-01-02T00:00"},
    ),
    ("bonus_event_edit", "get", lambda w: {"event_id": w["event_b"].pk}, {}),
    (
        "bonus_event_edit",
        "post",
        lambda w: {"event_id": w["event_b"].pk},
        {"multiplier": "9", "starts_at": "2030-01-01T00:00", "ends_at": "2030-01-02T00:00"},
    ),
    ("bonus_event_delete", "post", lambda w: {"event_id": w["event_b"].pk}, {}),
    ("rewards", "get", None, {}),
    ("reward_new", "get", None, {}),
    (
        "reward_new",
        "post",
        None,
        {"name": "A thing", "kind": "free_shipping", "points_cost": "10", "code_valid_days": "3"},
    ),
    ("reward_edit", "get", lambda w: {"reward_id": w["reward_b"].pk}, {}),
    (
        "reward_edit",
        "post",
        lambda w: {"reward_id": w["reward_b"].pk},
        {"name": "Taken", "kind": "free_shipping", "points_cost": "1", "code_valid_days": "3"},
    ),
    ("tiers", "get", None, {}),
    (
        "tiers",
        "post",
        None,
        {
            "enabled": "on",
            "metric": "points",
            "window": "rolling",
            "window_months": "12",
            "grace_periods": "1",
            "tier-TOTAL_FORMS": "1",
            "tier-INITIAL_FORMS": "1",
            "tier-0-tier_id": "{tier_b}",
            "tier-0-name": "Taken",
            "tier-0-threshold": "0",
            "tier-0-multiplier": "2",
            "tier-0-entry_points": "0",
            "action": "review",
        },
    ),
    ("tiers", "post", None, {"preview": "{preview_b}", "action": "apply"}),
    ("tiers_progress", "get", lambda w: {"recompute_id": w["recompute_b"].pk}, {}),
    ("tiers_preview", "get", lambda w: {"preview_id": w["preview_b"].pk}, {}),
    ("tiers_sync_retry", "post", None, {}),
    ("referrals", "get", None, {}),
    (
        "referrals",
        "post",
        None,
        {
            "enabled": "on",
            "offer_kind": "percent",
            "offer_value": "15",
            "code_valid_days": "30",
            "reward_kind": "points",
            "reward_points": "100",
            "cap_count": "0",
            "cap_period": "month",
        },
    ),
    ("referral_unblock", "post", lambda w: {"referral_id": w["referral_b"].pk}, {}),
    ("referral_cancel", "post", lambda w: {"referral_id": w["referral_b"].pk}, {}),
    ("branding", "get", None, {}),
    (
        "branding",
        "post",
        None,
        {
            "program_name": "Acme Club",
            "launcher_label": "Perks",
            "points_name": "stars",
            "primary_color": "#000000",
            "text_color": "#ffffff",
            "position": "bottom-left",
            "shape": "circle",
            "icon": "star",
            "languages": ["en"],
        },
    ),
    (
        "branding_preview",
        "post",
        None,
        {
            "program_name": "Acme Club",
            "launcher_label": "Perks",
            "points_name": "stars",
            "primary_color": "#000000",
            "text_color": "#ffffff",
            "position": "bottom-left",
            "shape": "circle",
            "icon": "star",
            "languages": ["en"],
        },
    ),
    ("landing", "get", None, {}),
    (
        "landing",
        "post",
        None,
        {"headline": "Hi", "intro": "Welcome", "cta_label": "Join", "faq": ""},
    ),
    ("shopper_texts", "get", None, {}),
    ("shopper_texts", "post", None, {"lang": "en", "title": "Acme perks"}),
    ("customers", "get", None, {}),
    ("customers_import", "get", None, {}),
    ("customers_import_apply", "post", None, {"csv_text": "customer_id,points\n555,999\n"}),
    ("export_members", "get", None, {}),
    ("export_ledger", "get", None, {}),
    ("customer_detail", "get", lambda w: {"member_id": w["member_b"].pk}, {}),
    (
        "customer_adjust",
        "post",
        lambda w: {"member_id": w["member_b"].pk},
        {"amount": "-300", "reason": "steal", "idempotency_key": "x"},
    ),
    (
        "redemption_cancel",
        "post",
        lambda w: {"member_id": w["member_b"].pk, "redemption_id": w["redemption_b"].pk},
        {},
    ),
    (
        "redemption_cancel",
        "post",
        lambda w: {"member_id": w["member_a"].pk, "redemption_id": w["redemption_b"].pk},
        {},
    ),
    (
        "customer_tier_set",
        "post",
        lambda w: {"member_id": w["member_b"].pk},
        {"tier_set-tier": "{tier_b}", "tier_set-reason": "x", "tier_set-idempotency_key": "x"},
    ),
    (
        "customer_tier_grant",
        "post",
        lambda w: {"member_id": w["member_b"].pk},
        {"tier_grant-tier": "{tier_a}", "tier_grant-days": "3", "tier_grant-idempotency_key": "x"},
    ),
    ("customers_grant_tier", "get", None, {}),
    ("customers_grant_tier", "post", None, {"tier": "{tier_b}", "days": "3"}),
    (
        "customers_grant_tier_apply",
        "post",
        None,
        {"csv_text": "555\n", "tier": "{tier_a}", "days": "3", "idempotency_key": "x"},
    ),
    (
        "customers_grant_tier_apply",
        "post",
        None,
        {"csv_text": "555\n", "tier": "{tier_b}", "days": "3", "idempotency_key": "x"},
    ),
    ("webhooks", "get", None, {}),
    ("webhooks_replay", "post", None, {"delivery_id": "{delivery_b}"}),
    ("webhooks_replay", "post", None, {}),
    ("audit", "get", None, {}),
]
# Routes not behind the session token, each with its own guard, tested below.
SIGNED_OR_PUBLIC = {"branding_preview_frame", "branding_preview_api", "theme_asset"}


def _id(case: tuple[str, str, Any, dict[str, Any]]) -> str:
    name, method, kwargs, data = case
    return f"{method}-{name}" + ("-b-ids" if kwargs else "") + ("-data" if data else "")


def test_every_admin_route_is_covered() -> None:
    names = {p.name for p in admin_urls.urlpatterns}
    assert names == {case[0] for case in ROUTES} | SIGNED_OR_PUBLIC


@pytest.mark.parametrize("case", ROUTES, ids=[_id(c) for c in ROUTES])
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_shop_a_cannot_read_or_change_shop_b(world, case, htmx, monkeypatch) -> None:
    name, method, kwargs, data = case
    url = reverse(f"loyalty_admin:{name}", kwargs=kwargs(world) if kwargs else None)
    data = {
        k: (
            v.format(
                delivery_b=world["delivery_b"].pk,
                tier_a=world["tier_a"].pk,
                tier_b=world["tier_b"].pk,
                preview_b=world["preview_b"].pk,
            )
            if isinstance(v, str)
            else v
        )
        for k, v in data.items()
    }
    before = b_state(world)
    client = AdminClient(world["a"], htmx=htmx)

    response = getattr(client, method)(url, data) if method == "post" else client.get(url)

    if kwargs or "delivery_id" in data or "preview" in data:
        assert response.status_code == 404
    else:
        assert response.status_code in (200, 204, 303, 422)
    body = b"".join(response) if response.streaming else response.content
    for marker in B_MARKERS:
        assert marker.encode() not in body
    assert b_state(world) == before


@pytest.mark.parametrize("case", ROUTES, ids=[_id(c) for c in ROUTES])
def test_every_admin_route_needs_a_session_token(world, case) -> None:
    from django.test import Client

    name, method, kwargs, data = case
    url = reverse(f"loyalty_admin:{name}", kwargs=kwargs(world) if kwargs else None)
    before = b_state(world)

    response = getattr(Client(), method)(url, data, headers={"HX-Request": "true"})

    assert response.status_code == 401
    assert response["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert b_state(world) == before


def test_a_token_of_shop_a_never_authenticates_as_shop_b(world) -> None:
    from tests.merchants.embedded_helpers import session_token

    client = AdminClient(world["a"])
    forged = session_token(SHOP_A, dest=f"https://{SHOP_B}", secret="not-the-secret")

    response = client.client.get(
        reverse("loyalty_admin:rewards"),
        headers={"Authorization": f"Bearer {forged}", "HX-Request": "true"},
    )

    assert response.status_code == 401


def test_preview_frame_and_api_trust_only_what_the_admin_signed(world) -> None:
    client = AdminClient(world["a"])
    page = client.get(reverse("loyalty_admin:branding")).content.decode()
    frame_url = page.split('id="beam-preview-frame"')[1].split('src="')[1].split('"')[0]
    token = frame_url.rstrip("/").rsplit("/", 1)[1]

    frame = client.client.get(frame_url)
    program = client.client.get(f"{frame_url}api/program").json()

    assert frame.status_code == 200
    assert program["shop"]["name"] == "Acme"
    assert all("Bravo" not in r["title"] for r in program["rewards"])
    # A tampered token (e.g. another shop id) is refused, as is an unsigned one.
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.client.get(f"/admin/branding/preview-frame/{tampered}/").status_code == 404
    tampered_api = f"/admin/branding/preview-frame/{tampered}/api/program"
    assert client.client.get(tampered_api).status_code == 404
    forged = "eyJzIjoyLCJiIjp7fX0:1abc:xyz"
    assert client.client.get(f"/admin/branding/preview-frame/{forged}/").status_code == 404
    # The preview API never writes: redeeming is refused.
    redeem = client.client.post(f"{frame_url}api/redeem", {}, content_type="application/json")
    assert redeem.status_code == 403


def test_theme_assets_are_public_files_without_shop_data(world) -> None:
    from django.test import Client

    response = Client().get(reverse("loyalty_admin:theme_asset", args=["beam-launcher.js"]))
    missing = Client().get(reverse("loyalty_admin:theme_asset", args=["settings.py"]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith(("text/javascript", "application/javascript"))
    assert b"beam-root" in b"".join(response)
    assert missing.status_code == 404
