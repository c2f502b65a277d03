"""The store admin's app page, ``/admin/apps/beam?path=…``: the frame loads that app page the
way the platform loads an app page (signed query, fresh session token), so a reload of the
admin lands where the merchant was; a path that is not a relative path on the app is refused
with its reason (no open redirect through the admin's frame)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, quote, urlsplit

import jwt
import pytest

from devstore.signing import query_hmac
from tests.devstore.conftest import SHOP
from tests.merchants.embedded_helpers import installed_shop

SECRET = "beam-test-api-secret"
ADMIN = f"/devstore/{SHOP}/admin/apps/beam"


def frame_src(body: bytes) -> str:
    found = re.search(r'<iframe[^>]+src="([^"]+)"', body.decode())
    assert found is not None
    return unescape(found.group(1))


def test_path_opens_that_app_page_with_the_signed_load_query(client, dev_shop) -> None:
    response = client.get(ADMIN, {"path": "/admin/rewards/"})

    assert response.status_code == 200
    src = urlsplit(frame_src(response.content))
    assert (src.scheme, src.netloc, src.path) == ("http", "beam.test", "/admin/rewards/")
    params = dict(parse_qsl(src.query))
    assert set(params) == {"embedded", "host", "id_token", "shop", "timestamp", "hmac"}
    assert params["shop"] == SHOP and params["embedded"] == "1"
    assert params["hmac"] == query_hmac(params, SECRET)
    claims = jwt.decode(
        params["id_token"], SECRET, algorithms=["HS256"], audience="beam-test-api-key"
    )
    assert claims["dest"] == f"https://{SHOP}"
    assert b'data-app-origin="http://beam.test"' in response.content


def test_the_app_page_keeps_its_own_query_but_not_platform_parameters(client, dev_shop) -> None:
    path = "/admin/audit/?page=2&shop=evil.myshopify.com&id_token=forged&hmac=0"
    response = client.get(ADMIN, {"path": path})

    assert response.status_code == 200
    src = urlsplit(frame_src(response.content))
    assert src.path == "/admin/audit/"
    params = dict(parse_qsl(src.query))
    assert params["page"] == "2"
    assert params["shop"] == SHOP
    assert params["id_token"] != "forged"
    assert params["hmac"] == query_hmac(params, SECRET)  # the page's own parameter is signed


def test_without_path_the_frame_loads_the_app_url(client, dev_shop) -> None:
    response = client.get(ADMIN)

    assert response.status_code == 200
    assert frame_src(response.content).startswith("http://beam.test/?")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "the path is empty"),
        ("admin/rewards/", "must start with a single '/'"),
        ("//evil.example/admin/", "must start with a single '/'"),
        ("https://evil.example/admin/", "must start with a single '/'"),
        ("javascript:alert(1)", "must start with a single '/'"),
        ("/\\evil.example/", "backslash"),
        ("/admin/../../evil", "'.' or '..' segments"),
        ("/admin/%2e%2e/x", "'.' or '..' segments"),
        ("/admin/ rewards", "spaces or control characters"),
        ("/admin/\nrewards", "spaces or control characters"),
        ("/admin/rewards/#top", "fragment"),
        ("/" + "a" * 2048, "longer than 2048"),
    ],
)
def test_a_path_that_is_not_on_the_app_is_refused_with_its_reason(
    client, dev_shop, path: str, reason: str
) -> None:
    response = client.get(f"{ADMIN}?path={quote(path, safe='')}")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert body.startswith("Invalid path parameter: ") and reason in body
    assert "<iframe" not in body


def test_beam_renders_the_framed_app_page(client, dev_shop) -> None:
    """What the merchant's browser does with the frame's src: Beam authenticates the load
    by its id_token and renders that page, not its home."""
    installed_shop(SHOP)
    src = urlsplit(frame_src(client.get(ADMIN, {"path": "/admin/rewards/"}).content))

    page = client.get(f"{src.path}?{src.query}", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert '<ui-title-bar title="Rewards">' in page.content.decode()
