"""Setting up and running the program from the embedded admin: wizard, ways to earn, expiry,
bonus events, rewards, branding (with its live preview), landing page; every change audited
with the staff user (the session token's ``sub``)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict

from loyalty.models import AuditEvent, BonusEvent, LoyaltyProgram, Reward
from tests.loyalty.admin_helpers import AdminClient, admin_shop, elements, reads

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return admin_shop()


@pytest.fixture
def client(shop) -> AdminClient:
    return AdminClient(shop, user_id="77")


def program_of(shop) -> LoyaltyProgram:
    return LoyaltyProgram.objects.get(shop=shop)


def audit_actions(shop) -> list[tuple[str, str]]:
    return list(AuditEvent.objects.filter(shop=shop).order_by("pk").values_list("action", "actor"))


# --- wizard -----------------------------------------------------------------------------------


WIZARD_DEFAULTS = {
    "points_per_currency_unit": "1",
    "welcome_points": "100",
    "starter_rewards": ["0", "1", "2"],
    "program_name": "Acme Rewards",
    "primary_color": "#4f46e5",
    "position": "bottom-right",
    "enabled": "on",
}


def test_wizard_reviews_then_launches_the_program(shop, client) -> None:
    page = client.get("/admin/welcome/", htmx=False)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="1"' in html and 'value="100"' in html  # defaults prefilled
    assert len(elements(html, name="starter_rewards")) == 3
    checked = [(i["name"], i.get("value")) for i in elements(html) if "checked" in i]
    assert checked == [  # three starters and "Program on"
        ("starter_rewards", "0"),
        ("starter_rewards", "1"),
        ("starter_rewards", "2"),
        ("enabled", None),
    ]

    review = client.post("/admin/welcome/", WIZARD_DEFAULTS)

    assert review.status_code == 200
    text = review.content.decode()
    assert "What will change" in text
    assert "Launches the program" in text
    assert reads(text, "Welcome points:", "0", "→", "100")
    assert reads(text, "Program name:", "Rewards", "→", "Acme Rewards")
    assert "Adds the reward Free shipping (800 points)" in text
    assert program_of(shop).onboarded_at is None  # nothing written before the confirm
    assert not Reward.objects.filter(shop=shop).exists()

    response = client.post("/admin/welcome/", {**WIZARD_DEFAULTS, "confirm": "1"})

    assert response.status_code == 204
    location = json.loads(response["HX-Location"])
    assert location == {"path": "/admin/", "target": "#beam-main"}
    assert json.loads(response["HX-Trigger"]) == {"beam:toast": {"message": "Program launched"}}
    program = program_of(shop)
    assert program.enabled is True
    assert program.onboarded_at is not None
    assert program.welcome_points == 100
    assert program.branding["program_name"] == "Acme Rewards"
    rewards = Reward.objects.filter(shop=shop).order_by("pk")
    assert list(rewards.values_list("name", "points_cost")) == [
        ("$5 off your order", 500),
        ("Free shipping", 800),
        ("10% off your order", 1000),
    ]
    assert audit_actions(shop) == [("program.onboard", "77")]


@pytest.fixture
def live_program(shop) -> LoyaltyProgram:
    """The issue's program: 2 points a unit, a custom colour and position, its own prices
    for the starter rewards, launched."""
    from django.utils import timezone

    LoyaltyProgram.objects.create(
        shop=shop,
        points_per_currency_unit=Decimal("2"),
        welcome_points=50,
        branding={"primary_color": "#ff0000", "position": "bottom-left", "program_name": "Club"},
        onboarded_at=timezone.now(),
    )
    for name, kind, cost, value in [
        ("$5 off", "fixed_amount", 500, 5),
        ("Free shipping", "free_shipping", 300, 0),
        ("10% off", "percentage", 900, 10),
    ]:
        Reward.objects.create(shop=shop, name=name, kind=kind, points_cost=cost, value=value)
    return program_of(shop)


def wizard_as_shown(client) -> dict:
    """What the wizard's form submits when the merchant changes nothing."""
    html = client.get("/admin/welcome/", htmx=False).content.decode()
    import re

    def value(name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', html) or re.search(
            rf'value="([^"]*)"[^>]*name="{name}"', html
        )
        assert found, name
        return found.group(1)

    selected = re.search(r'name="position"[^>]*>.*?<option value="([^"]+)" selected', html, re.S)
    assert selected
    return {
        "points_per_currency_unit": value("points_per_currency_unit"),
        "welcome_points": value("welcome_points"),
        "program_name": value("program_name"),
        "primary_color": value("primary_color"),
        "position": selected.group(1),
        **({"enabled": "on"} if re.search(r'name="enabled"[^>]*checked', html) else {}),
    }


def test_wizard_on_a_live_program_starts_from_its_settings_and_duplicates_nothing(
    shop, client, live_program
) -> None:
    html = client.get("/admin/welcome/", htmx=False).content.decode()
    assert 'name="starter_rewards"' not in html  # every starter is in the catalogue
    assert "Already in your catalogue: $5 off (500 points)" in html
    shown = wizard_as_shown(client)
    assert shown == {
        "points_per_currency_unit": "2",
        "welcome_points": "50",
        "program_name": "Club",
        "primary_color": "#ff0000",
        "position": "bottom-left",
        "enabled": "on",
    }

    review = client.post("/admin/welcome/", shown)
    assert review.status_code == 200
    assert "Nothing: these are your program's current settings." in review.content.decode()
    client.post("/admin/welcome/", {**shown, "confirm": "1"})

    program = program_of(shop)
    assert program.points_per_currency_unit == 2
    assert (program.branding["primary_color"], program.branding["position"]) == (
        "#ff0000",
        "bottom-left",
    )
    assert Reward.objects.filter(shop=shop).count() == 3
    assert audit_actions(shop) == []


def test_wizard_on_a_live_program_changes_only_what_the_review_showed(
    shop, client, live_program
) -> None:
    edited = {**wizard_as_shown(client), "points_per_currency_unit": "3"}

    review = client.post("/admin/welcome/", edited).content.decode()
    assert reads(review, "Points per 1 unit spent:", "2", "→", "3")
    assert "Launches the program" not in review
    response = client.post("/admin/welcome/", {**edited, "confirm": "1"})

    assert json.loads(response["HX-Trigger"]) == {"beam:toast": {"message": "Setup saved"}}
    program = program_of(shop)
    assert program.points_per_currency_unit == 3
    assert program.branding["primary_color"] == "#ff0000"
    assert Reward.objects.filter(shop=shop).count() == 3
    assert audit_actions(shop) == [("program.onboard", "77")]


def test_a_starter_priced_differently_is_not_added_again(shop, client) -> None:
    from loyalty.services import program_onboard

    Reward.objects.create(
        shop=shop, name="Ship free", kind="free_shipping", points_cost=300, value=0
    )
    arguments = {
        "points_per_currency_unit": Decimal("1"),
        "welcome_points": 100,
        "starters": [0, 1, 2],
        "branding": {},
        "enabled": True,
    }
    program_onboard(shop=shop, actor="1", **arguments)
    program_onboard(shop=shop, actor="1", **arguments)  # a replayed confirm

    assert sorted(Reward.objects.filter(shop=shop).values_list("name", "points_cost")) == [
        ("$5 off your order", 500),
        ("10% off your order", 1000),
        ("Ship free", 300),
    ]


def test_home_offers_the_wizard_until_the_program_is_launched(shop, client) -> None:
    home = client.get("/admin/", htmx=False).content.decode()
    assert "Set up and launch in two minutes" in home
    assert "New here?" in client.get("/admin/earning/", htmx=False).content.decode()

    client.post("/admin/welcome/", {**WIZARD_DEFAULTS, "confirm": "1"})

    assert "New here?" not in client.get("/admin/earning/", htmx=False).content.decode()

    home = client.get("/admin/", htmx=False).content.decode()
    assert "Set up and launch in two minutes" not in home
    assert "Your program is live since" in home
    assert "Review setup" in home


def test_wizard_errors_name_the_field_and_change_nothing(shop, client) -> None:
    response = client.post(
        "/admin/welcome/",
        {
            "points_per_currency_unit": "-1",
            "welcome_points": "abc",
            "starter_rewards": ["0"],
            "program_name": "",
            "primary_color": "blue",
            "position": "top",
        },
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert "Ensure this value is greater than or equal to 0." in html
    assert "Enter a whole number." in html
    assert "Pick two or three starter rewards." in html
    assert "Use a hex colour such as #4f46e5." in html
    assert "Select a valid choice. top is not one of the available choices." in html
    assert program_of(shop).onboarded_at is None
    assert Reward.objects.filter(shop=shop).count() == 0
    assert audit_actions(shop) == []


# --- ways to earn, on/off, expiry ----------------------------------------------------------------

EARNING = {
    "points_per_currency_unit": "2.5",
    "rounding": "nearest",
    "include_shipping": "on",
    "excluded_product_ids": "111, 222,111",
    "excluded_product_tags": "gift-card, no-points",
    "minimum_order_amount": "20.00",
    "earn_trigger": "fulfilled",
    "pending_days": "14",
    "welcome_points": "50",
    "negative_balance_policy": "allow_negative",
    "guest_link_window_days": "45",
    "test_orders_earn": "on",
}


def test_earning_rule_saved_and_audited_with_before_and_after(shop, client) -> None:
    response = client.post("/admin/earning/", EARNING)

    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"beam:toast": {"message": "Settings saved"}}
    assert "HX-Request" in response["Vary"]
    p = program_of(shop)
    assert (p.points_per_currency_unit, p.rounding, p.include_shipping, p.include_tax) == (
        Decimal("2.5"),
        "nearest",
        True,
        False,
    )
    assert p.excluded_product_ids == [111, 222]
    assert p.excluded_product_tags == ["gift-card", "no-points"]
    assert (p.minimum_order_amount, p.earn_trigger, p.pending_days, p.welcome_points) == (
        Decimal("20.00"),
        "fulfilled",
        14,
        50,
    )
    assert (p.guest_link_window_days, p.test_orders_earn) == (45, True)
    event = AuditEvent.objects.get(shop=shop)
    assert (event.action, event.actor) == ("program.update", "77")
    assert event.changes["guest_link_window_days"] == [30, 45]
    assert event.changes["test_orders_earn"] == [False, True]
    assert event.changes["points_per_currency_unit"] == ["1.0000", "2.5"]
    assert event.changes["excluded_product_ids"] == [[], [111, 222]]
    # Saving the same values again changes nothing and audits nothing.
    client.post("/admin/earning/", EARNING)
    assert AuditEvent.objects.filter(shop=shop).count() == 1


def orders_checkbox(html: str) -> dict[str, str | None]:
    """The "Test orders earn points" checkbox, described by its help text."""
    (checkbox,) = elements(html, name="test_orders_earn")
    assert checkbox["type"] == "checkbox"
    (help_id,) = (checkbox["aria-describedby"] or "").split()
    assert reads(html, f'id="{help_id}">', "Orders paid with a test gateway.")
    return checkbox


def test_earning_page_states_the_guest_window_and_test_orders(shop, client) -> None:
    page = client.get("/admin/earning/").content.decode()
    assert 'name="guest_link_window_days" value="30"' in page
    assert "Guest order window (days)" in page
    assert "Test orders earn points" in page
    assert "checked" not in orders_checkbox(page)

    client.post("/admin/earning/", {**EARNING, "guest_link_window_days": "7"})
    page = client.get("/admin/earning/").content.decode()

    assert 'name="guest_link_window_days" value="7"' in page
    assert "checked" in orders_checkbox(page)
    p = program_of(shop)
    assert (p.guest_link_window_days, p.test_orders_earn) == (7, True)
    client.post("/admin/earning/", {k: v for k, v in EARNING.items() if k != "test_orders_earn"})
    assert program_of(shop).test_orders_earn is False


def test_earning_validation_messages_and_nothing_changes(shop, client) -> None:
    client.get("/admin/earning/")
    before = model_to_dict(program_of(shop))

    response = client.post(
        "/admin/earning/",
        {
            **EARNING,
            "excluded_product_ids": "12, shoes",
            "pending_days": "400",
            "rounding": "x",
            "guest_link_window_days": "-1",
        },
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert "“shoes” is not a product id" in html
    assert "Ensure this value is less than or equal to 365." in html
    assert "Select a valid choice." in html
    assert "Ensure this value is greater than or equal to 0." in html
    assert model_to_dict(program_of(shop)) == before
    assert audit_actions(shop) == []


def test_program_off_and_on(shop, client) -> None:
    off = client.post("/admin/program/toggle", {"enabled": "0"})
    assert off.status_code == 204
    assert program_of(shop).enabled is False
    client.post("/admin/program/toggle", {"enabled": "1"})
    assert program_of(shop).enabled is True
    assert audit_actions(shop) == [("program.disable", "77"), ("program.enable", "77")]


def test_points_expiry(shop, client) -> None:
    bad = client.post(
        "/admin/expiry/",
        {"expiry_enabled": "on", "expiry_days": "30", "expiry_warning_days": "30"},
    )
    assert bad.status_code == 422
    assert "The warning must come before the points expire." in bad.content.decode()
    assert program_of(shop).expiry_days is None

    client.post(
        "/admin/expiry/",
        {"expiry_enabled": "on", "expiry_days": "365", "expiry_warning_days": "14"},
    )
    assert program_of(shop).expiry_days == 365
    client.post("/admin/expiry/", {"expiry_warning_days": "14"})
    assert program_of(shop).expiry_days is None
    assert [a for a, _ in audit_actions(shop)] == ["program.update", "program.update"]


# --- bonus events -------------------------------------------------------------------------------


def test_bonus_event_create_edit_delete(shop, client) -> None:
    created = client.post(
        "/admin/bonus-events/",
        {
            "name": "Double days",
            "multiplier": "2",
            "starts_at": "2030-05-01T00:00",
            "ends_at": "2030-05-03T00:00",
            "product_tags": "summer",
        },
    )
    assert created.status_code == 200
    event = BonusEvent.objects.get(shop=shop)
    assert (event.name, event.multiplier, event.product_tags) == (
        "Double days",
        Decimal("2"),
        ["summer"],
    )
    assert "Double days" in created.content.decode()

    edit = client.post(
        f"/admin/bonus-events/{event.pk}/",
        {"multiplier": "3", "starts_at": "2030-05-01T00:00", "ends_at": "2030-05-03T00:00"},
    )
    assert edit.status_code == 204
    event.refresh_from_db()
    assert (event.multiplier, event.name, event.product_tags) == (Decimal("3"), "", [])

    client.post(f"/admin/bonus-events/{event.pk}/delete")
    assert not BonusEvent.objects.filter(shop=shop).exists()
    assert [a for a, _ in audit_actions(shop)] == [
        "bonus_event.create",
        "bonus_event.update",
        "bonus_event.delete",
    ]


def test_bonus_event_window_and_multiplier_validated(shop, client) -> None:
    response = client.post(
        "/admin/bonus-events/",
        {"multiplier": "0.5", "starts_at": "2030-05-03T00:00", "ends_at": "2030-05-01T00:00"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Ensure this value is greater than or equal to 1." in html
    assert "The event must end after it starts." in html
    assert not BonusEvent.objects.filter(shop=shop).exists()


# --- rewards -----------------------------------------------------------------------------------

BASE_REWARD = {"code_valid_days": "30", "combines_with_shipping": "on", "active": "on"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"name": "$5 off", "kind": "fixed_amount", "points_cost": "500", "value": "5"},
            {"points_cost": 500, "value": Decimal("5.00")},
        ),
        (
            {"name": "10% off", "kind": "percentage", "points_cost": "900", "value": "10"},
            {"points_cost": 900, "value": Decimal("10.00")},
        ),
        (
            {"name": "Ship", "kind": "free_shipping", "points_cost": "800", "value": "9"},
            {"points_cost": 800, "value": Decimal("0")},
        ),
        (
            {
                "name": "Mug",
                "kind": "free_product",
                "points_cost": "1500",
                "variant_gid": "gid://shopify/ProductVariant/42",
            },
            {"variant_gid": "gid://shopify/ProductVariant/42"},
        ),
        (
            {
                "name": "Pick",
                "kind": "variable",
                "points_cost": "77",
                "points_per_unit": "100",
                "value_per_unit": "1",
                "min_points": "100",
                "max_points": "1000",
            },
            {"points_cost": None, "points_per_unit": 100, "value_per_unit": Decimal("1.00")},
        ),
        (
            {
                "name": "Credit",
                "kind": "store_credit",
                "points_cost": "1000",
                "value": "10",
                "minimum_subtotal": "25",
            },
            {"value": Decimal("10.00"), "minimum_subtotal": Decimal("25.00")},
        ),
    ],
    ids=["fixed", "percentage", "free_shipping", "free_product", "variable", "store_credit"],
)
def test_every_reward_kind_can_be_created(shop, client, data, expected) -> None:
    response = client.post("/admin/rewards/new", {**BASE_REWARD, **data})

    assert response.status_code == 204, response.content.decode()
    reward = Reward.objects.get(shop=shop)
    assert reward.kind == data["kind"]
    for field, value in expected.items():
        assert getattr(reward, field) == value
    assert (reward.code_valid_days, reward.combines_with_shipping, reward.combines_with_order) == (
        30,
        True,
        False,
    )
    assert audit_actions(shop) == [("reward.create", "77")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "fixed_amount", "value": "5"}, "Required for this type of reward."),
        ({"kind": "percentage", "points_cost": "5", "value": "150"}, "A percentage is between"),
        ({"kind": "fixed_amount", "points_cost": "5", "value": "0"}, "The value must be more"),
        (
            {"kind": "free_product", "points_cost": "5", "variant_gid": "42"},
            "Use gid://shopify/ProductVariant/&lt;number&gt;.",
        ),
        (
            {
                "kind": "variable",
                "points_per_unit": "100",
                "value_per_unit": "1",
                "min_points": "150",
            },
            "Use a multiple of the step (100 points).",
        ),
        (
            {
                "kind": "variable",
                "points_per_unit": "100",
                "value_per_unit": "1",
                "min_points": "500",
                "max_points": "200",
            },
            "The maximum must be at least the minimum.",
        ),
        ({"kind": "store_credit", "points_cost": "0", "value": "1"}, "greater than or equal to 1"),
        (
            {
                "kind": "variable",
                "points_per_unit": "1",
                "value_per_unit": "1",
                "min_points": "99999999999",
            },
            "At most 2,147,483,647.",
        ),
    ],
)
def test_reward_validation_changes_nothing(shop, client, data, message) -> None:
    response = client.post("/admin/rewards/new", {**BASE_REWARD, "name": "R", **data})

    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Reward.objects.filter(shop=shop).exists()
    assert audit_actions(shop) == []


def test_reward_edit_and_hide(shop, client) -> None:
    reward = Reward.objects.create(
        shop=shop, name="$5 off", kind="fixed_amount", points_cost=500, value=5
    )
    page = client.get(f"/admin/rewards/{reward.pk}/")
    assert 'value="$5 off"' in page.content.decode()

    response = client.post(
        f"/admin/rewards/{reward.pk}/",
        {
            "name": "$6 off",
            "kind": "fixed_amount",
            "points_cost": "600",
            "value": "6",
            "code_valid_days": "7",
            "combines_with_order": "on",
        },
    )

    assert response.status_code == 204
    reward.refresh_from_db()
    assert (reward.name, reward.points_cost, reward.value, reward.active) == (
        "$6 off",
        600,
        Decimal("6.00"),
        False,
    )
    assert (reward.code_valid_days, reward.combines_with_order) == (7, True)
    event = AuditEvent.objects.get(shop=shop)
    assert event.action == "reward.update"
    assert event.changes["points_cost"] == [500, 600]
    assert event.changes["active"] == [True, False]
    listing = client.get("/admin/rewards/").content.decode()
    assert "$6 off" in listing and "Hidden" in listing


# --- branding, preview, landing ----------------------------------------------------------------

BRANDING = {
    "program_name": "Acme Club",
    "launcher_label": "Perks",
    "panel_title": "Acme perks",
    "points_name": "stars",
    "primary_color": "#ff0000",
    "text_color": "#ffffff",
    "position": "bottom-left",
    "shape": "circle",
    "icon": "star",
    "show_on_mobile": "on",
    "languages": ["en", "fr"],
}


def test_branding_saved_and_preview_uses_it(shop, client) -> None:
    response = client.post("/admin/branding/", BRANDING)

    assert response.status_code == 200
    branding = program_of(shop).branding
    assert branding["primary_color"] == "#ff0000"
    assert branding["languages"] == ["en", "fr"]
    assert AuditEvent.objects.get(shop=shop).changes["branding.primary_color"] == [
        None,
        "#ff0000",
    ]
    html = response.content.decode()
    assert 'data-preview-color="#ff0000"' in html


def test_preview_follows_unsaved_fields_without_storing_them(shop, client) -> None:
    response = client.post("/admin/branding/preview", {**BRANDING, "primary_color": "#00ff00"})

    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="beam-preview"')
    assert 'data-preview-color="#00ff00"' in html
    frame_url = html.split('src="')[1].split('"')[0]
    frame = client.client.get(frame_url)
    assert frame.status_code == 200
    body = frame.content.decode()
    assert 'data-color="#00ff00"' in body
    assert 'data-shape="circle"' in body and 'data-position="bottom-left"' in body
    assert "/admin/theme-assets/beam-launcher.js" in body
    assert "frame-ancestors" in frame["Content-Security-Policy"]
    assert "'self'" in frame["Content-Security-Policy"]
    api = client.client.get(f"{frame_url}api/program").json()
    assert api["branding"]["panel_title"] == "Acme perks"
    assert client.client.get(f"{frame_url}api/me").json()["member"]["balance"] == 1200
    assert program_of(shop).branding == {}
    assert audit_actions(shop) == []


def test_preview_of_invalid_fields_keeps_the_last_valid_look(shop, client) -> None:
    response = client.post("/admin/branding/preview", {**BRANDING, "primary_color": "red"})

    html = response.content.decode()
    assert "Brand colour: Use a hex colour such as #4f46e5." in html
    assert 'data-preview-color="#4f46e5"' in html


def test_branding_validation(shop, client) -> None:
    response = client.post(
        "/admin/branding/", {**BRANDING, "primary_color": "red", "languages": [], "shape": "x"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Use a hex colour such as #4f46e5." in html
    assert "Pick at least one language." in html
    assert program_of(shop).branding == {}


def test_landing_page_texts(shop, client) -> None:
    bad = client.post(
        "/admin/landing/",
        {"headline": "Earn", "intro": "Hi", "cta_label": "Join", "faq": "no separator"},
    )
    assert bad.status_code == 422
    assert "Line 1: write “question | answer”." in bad.content.decode()

    client.post(
        "/admin/landing/",
        {
            "headline": "Earn more",
            "intro": "Points on every order",
            "cta_label": "Join",
            "faq": "How? | Shop.\n\nWhen? | Now.",
        },
    )
    assert program_of(shop).landing == {
        "headline": "Earn more",
        "intro": "Points on every order",
        "cta_label": "Join",
        "faq": [{"q": "How?", "a": "Shop."}, {"q": "When?", "a": "Now."}],
    }
    assert audit_actions(shop) == [("landing.update", "77")]


# --- page anatomy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/admin/earning/", "/admin/rewards/", "/admin/customers/", "/admin/audit/"]
)
def test_htmx_gets_the_partial_and_a_document_the_page(shop, client, url) -> None:
    partial = client.get(url, htmx=True).content.decode()
    page = client.get(url, htmx=False).content.decode()

    assert "<html" not in partial and "<ui-title-bar" in partial
    assert page.startswith("<!doctype html>")
    assert '<main id="beam-main"' in page
    assert "vendor/htmx/htmx.min.js" in page
    assert "vendor/polaris/polaris.css" in page
    assert 'href="/admin/analytics/"' in page
    assert "<script>" not in page and "style=" not in page  # CSP: nothing inline


def test_shopper_texts_per_language(shop, client) -> None:
    client.post("/admin/branding/", {**BRANDING, "languages": ["en", "fr"]})
    page = client.get("/admin/texts/?lang=fr").content.decode()
    assert '<input type="hidden" name="lang" value="fr">' in page
    assert "Default: Join our rewards program" in page

    bad = client.post("/admin/texts/", {"lang": "fr", "title": "<b>Cadeaux</b>"})
    assert bad.status_code == 422
    assert "Plain text on one line, without &lt; or &gt;." in bad.content.decode()
    assert program_of(shop).texts == {}

    client.post("/admin/texts/", {"lang": "fr", "title": " Cadeaux ", "sign_up": "Rejoindre"})
    assert program_of(shop).texts == {"fr": {"title": "Cadeaux", "sign_up": "Rejoindre"}}
    # A language the program does not offer falls back to the first one offered.
    client.post("/admin/texts/", {"lang": "de", "title": "Rewards+"})
    assert program_of(shop).texts["en"] == {"title": "Rewards+"}
    assert [a for a, _ in audit_actions(shop)][-2:] == ["texts.update", "texts.update"]


def test_bonus_event_times_are_in_the_shops_time_zone(shop, client) -> None:
    shop.iana_timezone = "America/New_York"
    shop.save(update_fields=["iana_timezone"])

    client.post(
        "/admin/bonus-events/",
        {"multiplier": "2", "starts_at": "2030-05-01T09:00", "ends_at": "2030-05-01T21:00"},
    )

    event = BonusEvent.objects.get(shop=shop)
    assert event.starts_at.isoformat() == "2030-05-01T13:00:00+00:00"
    assert event.ends_at.isoformat() == "2030-05-02T01:00:00+00:00"
    page = client.get(f"/admin/bonus-events/{event.pk}/").content.decode()
    assert 'value="2030-05-01T09:00"' in page
