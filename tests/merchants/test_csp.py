"""``Content-Security-Policy: frame-ancestors`` per shop on embedded pages, ``'none'``
elsewhere, and never a shop that did not pass validation."""

from __future__ import annotations

import pytest

from merchants.middleware import frame_ancestors_for
from tests.merchants.embedded_helpers import HTML, SHOP, installed_shop, session_token, signed_query

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

EMBEDDED = f"frame-ancestors https://{SHOP} https://admin.shopify.com 'self';"


@pytest.mark.django_db
def test_embedded_admin_page_is_framed_by_its_shop_only(client) -> None:
    installed_shop()
    installed_shop("other.myshopify.com")

    response = client.get(f"/admin/?id_token={session_token()}", headers=HTML)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == EMBEDDED
    assert "other.myshopify.com" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_htmx_partial_is_framed_by_its_shop(client) -> None:
    installed_shop()

    response = client.get(
        "/admin/", headers={"HX-Request": "true", "Authorization": f"Bearer {session_token()}"}
    )

    assert response["Content-Security-Policy"] == EMBEDDED


@pytest.mark.django_db
def test_app_url_home_is_framed_by_the_tokens_shop(client) -> None:
    installed_shop()
    query = signed_query({"shop": SHOP, "embedded": "1", "id_token": session_token()})

    response = client.get(f"/?{query}", headers=HTML)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == EMBEDDED


def test_production_has_no_extra_ancestor(settings) -> None:
    settings.SHOPIFY_EXTRA_FRAME_ANCESTORS = []
    assert frame_ancestors_for(SHOP) == (
        f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/auth/install?shop=nope"])
def test_non_embedded_pages_may_not_be_framed(client, path: str) -> None:
    response = client.get(path, headers=HTML)

    assert response["Content-Security-Policy"] == "frame-ancestors 'none';"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "shop",
    [
        "evil.com",
        "evil.com/x.myshopify.com",
        "x.myshopify.com.evil.com",
        "x.myshopify.com evil.com",
        "x.myshopify.com;script-src *",
        "*.myshopify.com",
    ],
)
def test_unvalidated_shop_never_reaches_the_header(client, shop: str) -> None:
    responses = [
        client.get("/admin/", {"shop": shop}, headers=HTML),  # bounce page
        client.get("/", {"shop": shop, "id_token": session_token()}, headers=HTML),
        client.get("/auth/install", {"shop": shop}, headers=HTML),
        client.get("/auth/callback", {"shop": shop}, headers=HTML),
    ]

    for response in responses:
        assert response["Content-Security-Policy"] == "frame-ancestors 'none';"
        assert b"evil" not in response.content
        assert b"script-src" not in response.content


@pytest.mark.django_db
def test_bounce_page_is_framed_by_the_validated_shop(client) -> None:
    response = client.get("/admin/", {"shop": SHOP}, headers=HTML)

    assert response.templates[0].name == "merchants/bounce.html"
    assert response["Content-Security-Policy"] == EMBEDDED


@pytest.mark.django_db
def test_json_errors_get_no_csp(client) -> None:
    response = client.get("/admin/", headers={"HX-Request": "true"})

    assert response.status_code == 401
    assert "Content-Security-Policy" not in response
