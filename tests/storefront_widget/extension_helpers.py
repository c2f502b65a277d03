"""Shared set-up for the extension API tests: a devstore shop with Beam installed, so codes
are created by the real Admin GraphQL stand-in and orders credit points through the real
signed-webhook path."""

from __future__ import annotations

from typing import Any

from django.test import Client

from devstore import services as store
from devstore.models import DevShop
from devstore.oauth import extension_token_issue
from merchants.models import Shop
from tests.devstore_install import beam_install

DOMAIN = "ext-devstore.myshopify.com"


def devstore_with_beam(domain: str = DOMAIN, currency: str = "USD") -> tuple[DevShop, Shop]:
    dev_shop = store.shop_create(domain, name="Ext Devstore", currency=currency)
    return dev_shop, beam_install(dev_shop)


def bearer(shop_domain: str, customer_id: int | None, **overrides: Any) -> dict[str, str]:
    token = extension_token_issue(shop_domain=shop_domain, customer_id=customer_id, **overrides)
    return {"Authorization": f"Bearer {token}"}


def ext_post(client: Client, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(f"/ext/{path}", data=body, content_type="application/json", headers=headers)
