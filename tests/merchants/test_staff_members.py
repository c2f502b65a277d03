"""The staff member behind a session token, by name: an online token exchange when a staff
user opens Beam (the devstore answers it in-process like the platform), kept for a week,
never failing the admin load."""

from __future__ import annotations

import json

import pytest

from devstore.models import DevShop
from merchants.models import StaffMember
from merchants.shopify.oauth import ONLINE_TOKEN_TYPE
from tests.merchants.embedded_helpers import (
    HTML,
    SHOP,
    installed_shop,
    session_token,
    signed_query,
    token_url,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]


def _open_beam(client, user_id: str = "1"):
    query = signed_query(
        {"shop": SHOP, "host": "YWRtaW4", "embedded": "1", "id_token": session_token(sub=user_id)}
    )
    return client.get(f"/?{query}", headers=HTML)


def _online_exchanges(platform_http) -> list[dict]:
    bodies = [json.loads(c.request.body) for c in platform_http.calls]
    return [b for b in bodies if b.get("requested_token_type") == ONLINE_TOKEN_TYPE]


@pytest.fixture
def store():
    DevShop.objects.create(domain=SHOP, shop_id=7001, name="Acme", email="ann@acme.example")
    return installed_shop()


def test_opening_beam_learns_the_staff_members_name_once(client, platform_http, store) -> None:
    assert _open_beam(client).status_code == 200

    owner = StaffMember.objects.get(shop=store, user_id="1")
    assert (owner.display_name, owner.email, owner.account_owner) == (
        "Store Owner",
        "ann@acme.example",
        True,
    )
    [exchange] = _online_exchanges(platform_http)
    assert exchange["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert exchange["subject_token_type"] == "urn:ietf:params:oauth:token-type:id_token"

    assert _open_beam(client).status_code == 200  # known this week: no second call
    assert len(_open_beam(client, "42").content) > 0  # another staff member is asked for
    assert len(_online_exchanges(platform_http)) == 2
    assert StaffMember.objects.get(user_id="42").display_name == "Staff 42"


def test_a_platform_failure_leaves_the_admin_working_and_the_id_shown(
    client, platform_http, store
) -> None:
    platform_http.add("POST", token_url(), status=503, body="down")

    response = _open_beam(client)

    assert response.status_code == 200
    assert "merchants/admin_home.html" in [t.name for t in response.templates]
    assert not StaffMember.objects.exists()


def test_an_answer_naming_another_user_is_not_stored(client, platform_http, store) -> None:
    platform_http.add(
        "POST",
        token_url(),
        json={"access_token": "x", "associated_user": {"id": 999, "first_name": "Mallory"}},
    )

    assert _open_beam(client).status_code == 200

    assert not StaffMember.objects.exists()
