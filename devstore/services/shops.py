"""Shops: create a simulated shop; the merchant uninstalls the app."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from devstore.errors import ShopExists
from devstore.identifiers import id_allocate
from devstore.models import DevAppToken, DevShop
from devstore.payloads import shop_payload
from devstore.services.writes import store_write
from devstore.webhooks import webhook_emit


def shop_create(
    domain: str,
    *,
    name: str = "",
    email: str = "",
    currency: str = "USD",
    iana_timezone: str = "UTC",
    plan: str = "Basic",
    taxes_included: bool = False,
    exist_ok: bool = True,
) -> DevShop:
    """Create the simulated shop ``domain``. When it exists: return it unchanged
    (``exist_ok``, what the demo set-up wants on a second run), else raise ``ShopExists``
    (the unique domain decides, so two people creating it at once cannot both succeed)."""
    from merchants.domains import shop_domain_normalise

    normalised = shop_domain_normalise(domain)
    if normalised is None:
        raise ValueError(f"not a valid shop domain: {domain!r}")
    if exist_ok:
        existing = DevShop.objects.filter(domain=normalised).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return DevShop.objects.create(
                domain=normalised,
                shop_id=id_allocate("shop"),
                name=name or normalised.split(".")[0].replace("-", " ").title(),
                email=email or f"owner@{normalised}",
                currency=currency,
                iana_timezone=iana_timezone,
                plan=plan,
                taxes_included=taxes_included,
            )
    except IntegrityError:
        if DevShop.objects.filter(domain=normalised).exists():
            raise ShopExists(f"{normalised} already exists.") from None
        raise


def app_uninstall(shop: DevShop) -> DevShop:
    """The merchant removes the app: every token dies; emits ``app/uninstalled``."""
    now = timezone.now()
    with store_write():
        DevAppToken.objects.filter(shop=shop, revoked_at__isnull=True).update(revoked_at=now)
        DevShop.objects.filter(pk=shop.pk).update(app_installed_at=None)
        shop.app_installed_at = None
        webhook_emit(shop, "app/uninstalled", shop_payload(shop))
    return shop
