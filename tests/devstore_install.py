"""Beam installed into a devstore shop (a live token on both sides), for tests that need the
real Admin GraphQL stand-in and the real signed-webhook path without walking through OAuth."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from devstore.models import DevAppToken, DevShop
from merchants.models import Shop


def beam_install(dev_shop: DevShop, *, name: str = "") -> Shop:
    """Install Beam into ``dev_shop``; returns Beam's ``Shop`` with a working token."""
    token = DevAppToken.objects.create(
        shop=dev_shop,
        access_token=f"shpat_test_{dev_shop.pk}",
        expires_at=timezone.now() + timedelta(hours=1),
        scopes=settings.SHOPIFY_SCOPES,
    )
    dev_shop.app_installed_at = timezone.now()
    dev_shop.save(update_fields=["app_installed_at"])
    shop = Shop(
        domain=dev_shop.domain,
        name=name,
        currency=dev_shop.currency,
        installed_at=timezone.now(),
        scopes=settings.SHOPIFY_SCOPES,
    )
    shop.access_token = token.access_token
    shop.access_token_expires_at = token.expires_at
    shop.save()
    return shop
