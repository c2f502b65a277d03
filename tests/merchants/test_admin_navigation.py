"""What every admin navigation needs from the server: pages name their shop and load the
navigation script (which keeps ``shop``/``host`` in every URL so a token-less document can
bounce), the bounce page keeps those parameters, and the site answers ``/favicon.ico``."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

from tests.merchants.embedded_helpers import (
    HTML,
    SHOP,
    installed_shop,
    session_token,
    signed_query,
)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/", "/admin/rewards/", "/admin/analytics/"])
def test_admin_pages_name_their_shop_and_load_the_navigation_script(client, path) -> None:
    installed_shop()

    response = client.get(f"{path}?id_token={session_token()}", headers=HTML)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<meta name="beam-shop" content="{SHOP}">' in html
    assert '<script src="/static/beam/navigation.js" defer></script>' in html
    assert '<link rel="icon" href="/static/beam/favicon.svg" type="image/svg+xml">' in html


@pytest.mark.django_db
def test_a_tokenless_link_to_an_inner_page_bounces_back_to_it(client) -> None:
    installed_shop()

    response = client.get(
        "/admin/customers/", {"shop": SHOP, "host": "YWRtaW4", "embedded": "1"}, headers=HTML
    )

    assert response.templates[0].name == "merchants/bounce.html"
    assert (
        response.context["reload_url"] == f"/admin/customers/?shop={SHOP}&host=YWRtaW4&embedded=1"
    )
    assert f"frame-ancestors https://{SHOP} " in response["Content-Security-Policy"]
    assert f'<meta name="beam-shop" content="{SHOP}">' in response.content.decode()


def test_favicon_answers_at_the_root(client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO with one image
    assert body[22:26] == b"\x89PNG"


def test_favicon_svg_is_a_static_file() -> None:
    found = finders.find("beam/favicon.svg")

    assert isinstance(found, str)
    with open(found, encoding="utf-8") as svg:
        assert svg.read().startswith("<svg ")


@pytest.mark.django_db
def test_platform_deep_link_to_an_inner_page_lands(client) -> None:
    """The store admin opens an app path (its own address bar, a bookmark) as the app URL
    plus the path, with the signed load parameters and a fresh ``id_token``."""
    installed_shop()
    query = signed_query({"embedded": "1", "host": "YWRtaW4", "shop": SHOP})

    response = client.get(f"/admin/analytics/?{query}&id_token={session_token()}", headers=HTML)

    assert response.status_code == 200
    assert response.templates[0].name == "analytics/dashboard.html"
    assert f"frame-ancestors https://{SHOP} " in response["Content-Security-Policy"]
