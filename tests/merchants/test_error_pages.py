"""The pages Beam shows instead of its admin: an install or app-load error (its title as the
page's heading, the reason announced, a way to try again when there is one) and the missing
permissions (what is granted, what is missing, the grant opening at the top of the window)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from tests.loyalty.page_reading import links_to, read_page
from tests.merchants.embedded_helpers import (
    HTML,
    SHOP,
    installed_shop,
    session_token,
    signed_query,
)

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def heading(html: str) -> str:
    return read_page(html).find("h1").text()


def announced(html: str) -> str:
    """The text of the page's alert (what a screen reader reads out at once)."""
    return read_page(html).find(role="alert").text()


@pytest.mark.django_db
def test_an_expired_callback_says_why_and_offers_to_try_again(client) -> None:
    query = signed_query(
        {"code": "c", "shop": SHOP, "state": "s"}, timestamp=int(time.time()) - 3600
    )

    response = client.get(f"/auth/callback?{query}")

    html = response.content.decode()
    assert response.status_code == 400
    assert heading(html) == "Link expired"
    assert announced(html).startswith("The callback's timestamp is missing or too old.")
    (retry,) = links_to(html, f"/auth/install?shop={SHOP}")
    assert retry.text() == "Try again"


def test_an_error_without_a_retry_has_no_retry_link(client) -> None:
    response = client.get("/auth/callback?shop=not-a-shop")

    html = response.content.decode()
    assert response.status_code == 400
    assert heading(html) == "Invalid shop"
    assert announced(html) == "The shop is not a myshopify.com domain."
    assert "Try again" not in html


@pytest.mark.django_db
def test_missing_permissions_are_listed_with_the_grant_at_the_top_of_the_window(client) -> None:
    installed_shop(scopes="write_orders")

    response = client.get(f"/?shop={SHOP}&id_token={session_token()}", headers=HTML)

    html = response.content.decode()
    assert response.status_code == 403
    assert heading(html) == "Beam needs more permissions"
    assert announced(html).startswith("Your program cannot run until you grant them")
    granted, needed = read_page(html).find(id="beam-scopes").find_all("dd")
    assert [code.text() for code in granted.find_all("code")] == ["write_orders"]
    assert [code.text() for code in needed.find_all("code")] == response.context["missing_scopes"]
    (grant,) = links_to(html, f"{settings.SHOPIFY_APP_URL}/auth/install?shop={SHOP}")
    assert (grant.text(), grant.attrs["target"]) == ("Grant the missing permissions", "_top")
    assert 'class="beam-nav"' not in html
