from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from devstore import services
from devstore.models import DevShop
from devstore.oauth import TOKEN_EXCHANGE, token_grant
from tests.devstore.factories import DevShopFactory

SHOP = "demo-shop.myshopify.com"


@pytest.fixture
def dev_shop(db) -> DevShop:
    return DevShopFactory(domain=SHOP)


@pytest.fixture
def access_token(dev_shop: DevShop) -> str:
    """Install the app into ``dev_shop`` by token exchange; the expiring access token."""
    body = token_grant(
        dev_shop,
        {
            "client_id": "beam-test-api-key",
            "client_secret": "beam-test-api-secret",
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": services.session_token_issue(shop_domain=dev_shop.domain),
            "expiring": "1",
        },
    )
    return body["access_token"]


@pytest.fixture
def gql(client: Client, dev_shop: DevShop, access_token: str) -> Callable[..., Any]:
    """POST a document to the shop's Admin GraphQL endpoint; returns the response."""

    def run(query: str, variables: dict | None = None, *, token: str | None = None):
        return client.post(
            f"/devstore/{dev_shop.domain}/admin/api/2026-10/graphql.json",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers={"X-Shopify-Access-Token": access_token if token is None else token},
        )

    return run


@pytest.fixture
def sent_webhooks(settings, platform_http) -> list[dict[str, Any]]:
    """Deliver webhooks synchronously to every topic and capture them (headers + body)."""
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    settings.DEVSTORE_WEBHOOK_SUBSCRIPTIONS = "all"
    captured: list[dict[str, Any]] = []

    def capture(request):
        captured.append(
            {"url": request.url, "headers": dict(request.headers), "body": request.body}
        )
        return 200, {}, ""

    platform_http.add_callback("POST", re.compile(r"http://beam\.test/webhooks/.*"), capture)
    return captured
