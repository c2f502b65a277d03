"""The privacy compliance webhooks: customer data request, customer redact, shop redact."""

from __future__ import annotations

from typing import Any

from devstore.identifiers import id_allocate
from devstore.models import DevCustomer, DevOrder, DevShop
from devstore.services.writes import store_write
from devstore.webhooks import webhook_emit


def compliance_customer_data_request(customer: DevCustomer) -> dict[str, Any]:
    """Emit ``customers/data_request`` for ``customer``; returns the payload."""
    shop = customer.shop
    payload = {
        "shop_id": shop.shop_id,
        "shop_domain": shop.domain,
        "customer": {"id": customer.id, "email": customer.email or None, "phone": None},
        "orders_requested": list(
            DevOrder.objects.filter(customer=customer).values_list("id", flat=True)
        ),
        "data_request": {"id": id_allocate("transaction") % 10_000_000},
    }
    with store_write():
        webhook_emit(shop, "customers/data_request", payload)
    return payload


def compliance_customer_redact(customer: DevCustomer) -> dict[str, Any]:
    """Emit ``customers/redact`` for ``customer``; returns the payload."""
    shop = customer.shop
    payload = {
        "shop_id": shop.shop_id,
        "shop_domain": shop.domain,
        "customer": {"id": customer.id, "email": customer.email or None, "phone": None},
        "orders_to_redact": list(
            DevOrder.objects.filter(customer=customer).values_list("id", flat=True)
        ),
    }
    with store_write():
        webhook_emit(shop, "customers/redact", payload)
    return payload


def compliance_shop_redact(shop: DevShop) -> dict[str, Any]:
    """Emit ``shop/redact`` (the platform sends it ~48 h after an uninstall)."""
    payload = {"shop_id": shop.shop_id, "shop_domain": shop.domain}
    with store_write():
        webhook_emit(shop, "shop/redact", payload)
    return payload
