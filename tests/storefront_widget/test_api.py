"""The storefront JSON API through a correctly signed app-proxy request."""

from __future__ import annotations

import json

import pytest

from loyalty.models import LedgerEntry, Member, Redemption

pytestmark = pytest.mark.django_db


def test_program_is_branded_and_lists_ways_to_earn_and_rewards(proxy, program, rewards):
    response = proxy.get("api/program")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data["shop"] == {"name": "Demo Store", "currency": "EUR"}
    assert data["branding"]["primary_color"] == "#e11d48"
    assert data["branding"]["program_name"] == "Bean Club"
    assert data["texts"] == {"fr": {"title": "Club des grains"}}
    assert [w["key"] for w in data["earning"]] == ["order", "signup"]
    assert data["earning"][1]["points_label"] == "100 points"
    assert [r["title"] for r in data["rewards"]] == ["Points discount", "€5 off", "€20 off"]
    five = data["rewards"][1]
    assert five == {
        "id": str(rewards["five"].pk),
        "title": "€5 off",
        "kind": "fixed_amount",
        "points_cost": 500,
        "value": "5.00",
        "currency": "EUR",
        "min_subtotal": "0.00",
        "variable": None,
        "tier": None,
    }
    assert data["rewards"][0]["variable"] == {
        "min_points": 100,
        "max_points": 1000,
        "points_per_unit": 100,
        "unit_value": "1.00",
    }
    assert data["tiers"] == []
    assert "customer" not in data  # shop-wide: nothing about the shopper


def test_guest_me_is_an_invitation(proxy, program):
    response = proxy.get("api/me", customer=None)

    assert response.status_code == 200
    assert response.json() == {"member": None, "invitation": {"sign_up": True, "log_in": True}}
    assert response["Cache-Control"] == "private, no-store"


def test_me_shows_balance_history_and_codes(proxy, program, rewards, member, give_points):
    give_points(member, 1200, "Welcome gift")

    response = proxy.get("api/me")

    assert response.status_code == 200
    data = response.json()
    assert data["member"]["balance"] == 1200
    assert data["member"]["lifetime_earned"] == 1200
    assert data["member"]["pending"] == []
    assert data["member"]["done"] == ["signup"]
    (entry,) = data["history"]["entries"]
    assert entry["amount"] == 1200 and entry["label"] == "Adjustment"
    assert entry["created_at"].endswith("Z")
    assert data["history"]["next_page"] is None
    assert data["redemptions"] == []
    assert response["Cache-Control"] == "private, no-store"


def test_logged_in_customer_without_member_has_zero_points_and_nothing_is_created(
    proxy, program, shop
):
    response = proxy.get("api/me")

    assert response.status_code == 200
    assert response.json()["member"]["balance"] == 0
    assert Member.objects.filter(shop=shop).count() == 0


def test_history_pages_by_keyset(proxy, program, member, give_points):
    for n in range(1, 24):
        give_points(member, n, f"gift {n}")

    first = proxy.get("api/me").json()["history"]
    second = proxy.get("api/me", page=first["next_page"]).json()
    third = proxy.get("api/me", page=second["history"]["next_page"]).json()["history"]

    assert [e["amount"] for e in first["entries"]] == list(range(23, 13, -1))
    assert [e["amount"] for e in second["history"]["entries"]] == list(range(13, 3, -1))
    assert "redemptions" not in second  # later pages carry only the history
    assert [e["amount"] for e in third["entries"]] == [3, 2, 1]
    assert third["next_page"] is None


def test_bad_page_token_is_a_400_with_a_reason(proxy, program, member):
    response = proxy.get("api/me", page="abc")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "page" in response.json()["error"]["fields"]


def test_redeem_returns_the_code_and_spends_points(
    proxy, program, rewards, member, give_points, django_capture_on_commit_callbacks
):
    give_points(member, 1200)

    with django_capture_on_commit_callbacks(execute=True):
        response = proxy.post(
            "api/redeem", {"reward_id": str(rewards["five"].pk), "client_key": "k-0000000001"}
        )

    assert response.status_code == 201, response.content
    red = response.json()["redemption"]
    assert red["status"] == "pending" and red["code"] is None  # issued after commit
    red = proxy.get(f"api/redemptions/{red['id']}").json()["redemption"]
    assert red["status"] == "issued"
    assert red["code"].startswith("BEAM-")
    assert red["points"] == 500 and red["value"] == "5.00" and red["reward_title"] == "€5 off"
    assert red["apply_path"] == f"discount/{red['code']}?redirect=cart"
    member.refresh_from_db()
    assert member.balance == 700
    me = proxy.get("api/me").json()
    assert me["member"]["balance"] == 700
    assert me["redemptions"][0]["code"] == red["code"]
    assert me["history"]["entries"][0]["label"] == "Redeemed €5 off"
    assert me["history"]["entries"][0]["amount"] == -500


def test_variable_reward_takes_the_chosen_points(proxy, program, rewards, member, give_points):
    give_points(member, 1200)

    response = proxy.post(
        "api/redeem",
        {"reward_id": rewards["credit"].pk, "client_key": "k-0000000002", "points": 300},
    )

    assert response.status_code == 201, response.content
    assert response.json()["redemption"]["value"] == "3.00"
    member.refresh_from_db()
    assert member.balance == 900


def test_insufficient_points_is_a_4xx_and_nothing_changes(
    proxy, program, rewards, member, give_points
):
    give_points(member, 300)

    response = proxy.post(
        "api/redeem", {"reward_id": str(rewards["five"].pk), "client_key": "k-0000000003"}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_points"
    member.refresh_from_db()
    assert member.balance == 300
    assert Redemption.objects.count() == 0
    assert LedgerEntry.objects.filter(kind="redeem").count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_key": "k-0000000004"}, "reward_id"),
        ({"reward_id": "1"}, "client_key"),
        ({"reward_id": "x1", "client_key": "k-0000000004"}, "reward_id"),
        ({"reward_id": "1", "client_key": "short"}, "client_key"),
        ({"reward_id": "1", "client_key": "k-0000000004", "points": "many"}, "points"),
    ],
)
def test_bad_redeem_input_is_a_400_naming_the_field(proxy, program, member, body, field):
    response = proxy.post("api/redeem", body)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert Redemption.objects.count() == 0


def test_malformed_json_is_a_400(proxy, program, member):
    response = proxy.post("api/redeem", "{not json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_unknown_or_inactive_reward_is_404(proxy, program, rewards, member, give_points):
    give_points(member, 1200)
    rewards["five"].active = False
    rewards["five"].save()

    response = proxy.post(
        "api/redeem", {"reward_id": str(rewards["five"].pk), "client_key": "k-0000000005"}
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "reward_not_available"


def test_guest_cannot_redeem(proxy, program, rewards):
    response = proxy.post(
        "api/redeem",
        {"reward_id": str(rewards["five"].pk), "client_key": "k-0000000006"},
        customer=None,
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "login_required"


def test_redemption_status_and_cancel_give_the_points_back(
    proxy, program, rewards, member, give_points, django_capture_on_commit_callbacks
):
    give_points(member, 1200)
    with django_capture_on_commit_callbacks(execute=True):
        red = proxy.post(
            "api/redeem", {"reward_id": str(rewards["five"].pk), "client_key": "k-0000000007"}
        ).json()["redemption"]
    assert red["status"] == "pending"  # the response was built before the commit

    status = proxy.get(f"api/redemptions/{red['id']}")
    cancel = proxy.post(f"api/redemptions/{red['id']}/cancel", {})

    assert status.status_code == 200 and status.json()["redemption"]["status"] == "issued"
    assert cancel.status_code == 200, cancel.content
    assert cancel.json()["redemption"]["status"] == "cancelled"
    assert cancel.json()["redemption"]["code"] is None
    member.refresh_from_db()
    assert member.balance == 1200
    again = proxy.post(f"api/redemptions/{red['id']}/cancel", {})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "redemption_not_cancellable"
    member.refresh_from_db()
    assert member.balance == 1200


def test_unknown_api_path_is_a_json_404(proxy, program):
    response = proxy.get("api/nope")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["api/me", "api/program"])
def test_the_plain_read_views_answer_other_methods_with_a_json_405(proxy, program, path):
    response = proxy.post(path, {})

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response["Cache-Control"] == "private, no-store"
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": 'Method "POST" not allowed.'}
    }


def test_me_body_is_compact_json_and_never_cached(proxy, program, member, give_points):
    give_points(member, 120)

    response = proxy.get("api/me")

    data = response.json()
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == json.dumps(data, separators=(",", ":")).encode()
    assert data["member"]["balance"] == 120
    assert [(e["amount"], e["label"]) for e in data["history"]["entries"]] == [(120, "Adjustment")]
