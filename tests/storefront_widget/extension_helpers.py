"""Shared set-up for the extension API tests: a devstore shop with Beam installed, so codes
are created by the real Admin GraphQL stand-in and orders credit points through the real
signed-webhook path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.test import Client
from django.utils import timezone

from devstore import services as store
from devstore.models import DevAppToken, DevShop
from devstore.oauth import extension_token_issue
from merchants.models import Shop

DOMAIN = "ext-devstore.myshopify.com"


def beam_install(dev_shop: DevShop) -> Shop:
    """Install Beam into ``dev_shop`` (a live token on both sides)."""
    token = DevAppToken.objects.create(
        shop=dev_shop,
        access_token=f"shpat_ext_{dev_shop.pk}",
        expires_at=timezone.now() + timedelta(hours=1),
        scopes=settings.SHOPIFY_SCOPES,
    )
    dev_shop.app_installed_at = timezone.now()
    dev_shop.save(update_fields=["app_installed_at"])
    shop = Shop(
        domain=dev_shop.domain,
        currency=dev_shop.currency,
        installed_at=timezone.now(),
        scopes=settings.SHOPIFY_SCOPES,
    )
    shop.access_token = token.access_token
    shop.access_token_expires_at = token.expires_at
    shop.save()
    return shop


def devstore_with_beam(domain: str = DOMAIN, currency: str = "USD") -> tuple[DevShop, Shop]:
    dev_shop = store.shop_create(domain, name="Ext Devstore", currency=currency)
    return dev_shop, beam_install(dev_shop)


def bearer(shop_domain: str, customer_id: int | None, **overrides: Any) -> dict[str, str]:
    token = extension_token_issue(shop_domain=shop_domain, customer_id=customer_id, **overrides)
    return {"Authorization": f"Bearer {token}"}


def ext_post(client: Client, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(f"/ext/{path}", data=body, content_type="application/json", headers=headers)
