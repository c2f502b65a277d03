"""Customers: create, update, delete (each emits its webhook)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from devstore.identifiers import id_allocate
from devstore.models import DevCustomer, DevShop
from devstore.payloads import customer_payload
from devstore.services.writes import store_write
from devstore.webhooks import webhook_emit


def customer_create(
    shop: DevShop,
    email: str,
    first_name: str = "",
    last_name: str = "",
    *,
    tags: Iterable[str] = (),
    at: datetime | None = None,
) -> DevCustomer:
    """A new customer; emits ``customers/create``."""
    moment = at or timezone.now()
    with store_write():
        customer = DevCustomer.objects.create(
            shop=shop,
            id=id_allocate("customer"),
            email=email,
            first_name=first_name,
            last_name=last_name,
            tags=list(tags),
            created_at=moment,
            updated_at=moment,
        )
        webhook_emit(shop, "customers/create", customer_payload(customer), triggered_at=moment)
    return customer


_CUSTOMER_FIELDS = {
    "email",
    "first_name",
    "last_name",
    "tags",
    "state",
    "note",
    "email_marketing_state",
    "email_consent_updated_at",
}


def customer_update(customer: DevCustomer, **changes: Any) -> DevCustomer:
    """Change ``email``/``first_name``/``last_name``/``tags``/``state``/``note``; emits
    ``customers/update``."""
    unknown = set(changes) - _CUSTOMER_FIELDS
    if unknown:
        raise TypeError(f"unknown customer fields: {sorted(unknown)}")
    with store_write():
        for name, value in changes.items():
            setattr(customer, name, list(value) if name == "tags" else value)
        customer.updated_at = timezone.now()
        customer.save(update_fields=[*changes, "updated_at"])
        webhook_emit(customer.shop, "customers/update", customer_payload(customer))
    return customer


def customer_email_consent_toggle(customer: DevCustomer) -> DevCustomer:
    """Subscribe the customer to email marketing, or unsubscribe them; emits
    ``customers/update`` with ``email_marketing_consent`` as the platform does."""
    state = "unsubscribed" if customer.email_marketing_state == "subscribed" else "subscribed"
    return customer_update(
        customer, email_marketing_state=state, email_consent_updated_at=timezone.now()
    )


def customer_delete(customer: DevCustomer) -> None:
    """Delete the customer (their orders stay, without a customer); emits ``customers/delete``."""
    payload = {"id": customer.id, "tax_exemptions": [], "admin_graphql_api_id": customer.gid}
    shop = customer.shop
    with store_write():
        customer.delete()
        webhook_emit(shop, "customers/delete", payload)
