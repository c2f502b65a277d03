"""The platform's mandatory privacy topics (PRODUCT P4, SHOPIFY.md §3).

- ``customers/data_request``: the loyalty export plus every stored delivery about the
  customer, kept in a ``ComplianceRequest`` for the merchant to hand over.
- ``customers/redact``: the loyalty layer forgets the customer; stored delivery payloads
  and earlier exports lose the customer's contact details, names and addresses (ids and
  amounts stay so the ledger still adds up).
- ``shop/redact``: the loyalty layer erases the shop; its deliveries, sync runs, exports and
  tokens are deleted. What stays is the ``Shop`` row (domain and install dates) and, as a
  tombstone, the shop/redact delivery and its ``ComplianceRequest``.

Each handler is idempotent: processing the same delivery twice leaves the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django.utils import timezone

from merchants import inbox
from merchants.models import ComplianceRequest, Shop, SyncRun, WebhookDelivery
from merchants.services import uninstall_apply

DATA_REQUEST = "customers/data_request"
CUSTOMER_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"


@dataclass(frozen=True)
class DomainPrivacy:
    """What the domain does for the privacy topics (registered from its ``AppConfig.ready``:
    this app never imports the domain). Each must be idempotent."""

    customer_data_export: Callable[..., dict[str, Any]]
    customer_redact: Callable[..., Any]
    shop_data_erase: Callable[..., Any]


_domain: list[DomainPrivacy] = []


def privacy_handlers_register(handlers: DomainPrivacy) -> None:
    _domain[:] = [handlers]


def _privacy() -> DomainPrivacy:
    if not _domain:
        raise RuntimeError("no domain privacy handlers registered")
    return _domain[0]


# Keys holding personal data wherever they appear in a REST payload.
_PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "phone",
        "first_name",
        "last_name",
        "address1",
        "address2",
        "city",
        "zip",
        "company",
        "latitude",
        "longitude",
        "browser_ip",
        "note",
        "multipass_identifier",
        "client_details",
    }
)
# Objects describing a person or an address: their ``name`` is a person's name (elsewhere
# ``name`` is an order number or a product title and stays).
_PERSON_OBJECTS = frozenset(
    {"customer", "billing_address", "shipping_address", "default_address", "addresses"}
)


def _as_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _ids(values: object) -> list[int]:
    if not isinstance(values, list):
        return []
    return [i for i in (_as_id(v) for v in values) if i is not None]


def payload_scrub(value: Any, *, in_person: bool = False) -> Any:
    """A copy of ``value`` without personal data (see ``_PERSONAL_KEYS``); shape, ids and
    amounts are kept so a later replay still parses."""
    if isinstance(value, list):
        return [payload_scrub(item, in_person=in_person) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _PERSONAL_KEYS or (in_person and key == "name"):
            out[key] = None
        elif key == "note_attributes":
            out[key] = []
        else:
            out[key] = payload_scrub(item, in_person=in_person or key in _PERSON_OBJECTS)
    return out


def customer_deliveries(
    *,
    shop: Shop,
    customer_id: int | None,
    email: str | None = None,
    order_ids: Iterable[int] = (),
    include_compliance: bool = False,
) -> QuerySet[WebhookDelivery]:
    """The shop's stored deliveries about one customer: their customer events, their orders
    (by customer id, email or the order ids the platform names), those orders' refunds and
    the product reviews a review app reported of them."""
    order_ids = set(order_ids)
    email = (email or "").strip().lower()  # stored emails compared lower-cased too
    order_q = Q(resource_id__in=order_ids) if order_ids else Q(pk__in=[])
    if customer_id is not None:
        order_q |= Q(payload__customer__id=customer_id)
    if email:
        order_q |= Q(order_email=email) | Q(contact_email=email)
    shop_qs = WebhookDelivery.objects.filter(shop=shop).alias(
        order_email=Lower(KT("payload__email")),
        contact_email=Lower(KT("payload__contact_email")),
        customer_email=Lower(KT("payload__customer__email")),
    )
    order_rows = shop_qs.filter(Q(topic__in=inbox.ORDER_TOPICS) & order_q)
    order_ids |= {i for i in order_rows.values_list("resource_id", flat=True) if i is not None}

    wanted = Q(topic__in=inbox.ORDER_TOPICS) & order_q
    if order_ids:
        wanted |= Q(topic=inbox.REFUND_TOPIC, payload__order_id__in=sorted(order_ids))
    review_q = Q(pk__in=[])
    if customer_id is not None:
        review_q |= Q(payload__customer__id=customer_id)
    if email:
        review_q |= Q(customer_email=email)
    wanted |= Q(topic=inbox.REVIEW_TOPIC) & review_q
    if customer_id is not None:
        wanted |= Q(topic__in=inbox.CUSTOMER_TOPICS, resource_id=customer_id)
        if include_compliance:
            wanted |= Q(topic__in=inbox.COMPLIANCE_TOPICS, payload__customer__id=customer_id)
    return shop_qs.filter(wanted).order_by("pk")


def _customer_of(payload: dict[str, Any]) -> tuple[int, str | None, str | None]:
    customer = payload.get("customer")
    customer = customer if isinstance(customer, dict) else {}
    customer_id = _as_id(customer.get("id"))
    if customer_id is None:
        raise inbox.DeliveryUnprocessable("the payload names no customer id")
    email = customer.get("email") if isinstance(customer.get("email"), str) else None
    phone = customer.get("phone") if isinstance(customer.get("phone"), str) else None
    return customer_id, email or None, phone or None


def customer_data_request_fulfil(*, delivery: WebhookDelivery) -> ComplianceRequest:
    """Assemble what Beam holds on the customer and keep it for the merchant."""
    shop, payload = delivery.shop, delivery.payload
    customer_id, email, phone = _customer_of(payload)
    orders_requested = _ids(payload.get("orders_requested"))
    loyalty_export = _privacy().customer_data_export(
        shop=shop, customer_id=customer_id, email=email
    )
    deliveries = [
        {
            "id": row.pk,
            "topic": row.topic,
            "webhook_id": row.webhook_id,
            "received_at": row.received_at,
            "payload": row.payload,
        }
        for row in customer_deliveries(
            shop=shop, customer_id=customer_id, email=email, order_ids=orders_requested
        )
    ]
    data_request = payload.get("data_request")
    request_id = data_request.get("id") if isinstance(data_request, dict) else None
    result = {
        "customer": {"id": customer_id, "email": email, "phone": phone},
        "orders_requested": orders_requested,
        "loyalty": loyalty_export,
        "deliveries": deliveries,
    }
    request, _ = ComplianceRequest.objects.update_or_create(
        webhook_id=delivery.webhook_id,
        defaults={
            "shop": shop,
            "topic": DATA_REQUEST,
            "customer_id": customer_id,
            "request_id": "" if request_id is None else str(request_id)[:255],
            "payload": payload,
            "result": result,
            "completed_at": timezone.now(),
        },
    )
    return request


def customer_redact_fulfil(*, delivery: WebhookDelivery) -> ComplianceRequest:
    """Forget the customer in the loyalty layer, then scrub what the inbox kept of them."""
    shop, payload = delivery.shop, delivery.payload
    customer_id, email, _ = _customer_of(payload)
    orders_to_redact = _ids(payload.get("orders_to_redact"))
    _privacy().customer_redact(shop=shop, customer_id=customer_id, email=email)
    with transaction.atomic():
        rows = list(
            customer_deliveries(
                shop=shop,
                customer_id=customer_id,
                email=email,
                order_ids=orders_to_redact,
                include_compliance=True,
            ).select_for_update()
        )
        for row in rows:
            row.payload = payload_scrub(row.payload)
            row.save(update_fields=["payload"])
        exports = ComplianceRequest.objects.filter(
            shop=shop, customer_id=customer_id
        ).select_for_update()
        for export in exports:
            export.payload = payload_scrub(export.payload)
            if export.topic == DATA_REQUEST:
                export.result = {"redacted": True, "by": delivery.webhook_id}
            export.save(update_fields=["payload", "result"])
        request, _ = ComplianceRequest.objects.update_or_create(
            webhook_id=delivery.webhook_id,
            defaults={
                "shop": shop,
                "topic": CUSTOMER_REDACT,
                "customer_id": customer_id,
                "payload": payload_scrub(payload),
                "result": {
                    "deliveries_scrubbed": len(rows),
                    "orders_to_redact": orders_to_redact,
                },
                "completed_at": timezone.now(),
            },
        )
    return request


def shop_redact_fulfil(*, delivery: WebhookDelivery) -> ComplianceRequest | None:
    """Erase the shop's data. A request older than the shop's latest install is stale (the
    merchant came back) and is ignored; otherwise the platform's word wins: a shop Beam
    still thinks installed (a missed app/uninstalled) is uninstalled first."""
    shop = delivery.shop
    if delivery.triggered_at and shop.installed_at and delivery.triggered_at < shop.installed_at:
        return None
    uninstall_apply(shop=shop, triggered_at=delivery.triggered_at)
    _privacy().shop_data_erase(shop=shop)
    with transaction.atomic():
        deliveries, _ = WebhookDelivery.objects.filter(shop=shop).exclude(pk=delivery.pk).delete()
        sync_runs, _ = SyncRun.objects.filter(shop=shop).delete()
        exports, _ = (
            ComplianceRequest.objects.filter(shop=shop)
            .exclude(webhook_id=delivery.webhook_id)
            .delete()
        )
        Shop.objects.filter(pk=shop.pk).update(
            name="",
            email="",
            plan_name="",
            scopes="",
            access_token_encrypted="",
            refresh_token_encrypted="",
            access_token_expires_at=None,
            refresh_token_expires_at=None,
            orders_synced_at=None,
            updated_at=timezone.now(),
        )
        request, _ = ComplianceRequest.objects.update_or_create(
            webhook_id=delivery.webhook_id,
            defaults={
                "shop": shop,
                "topic": SHOP_REDACT,
                "payload": delivery.payload,
                "result": {
                    "deliveries_deleted": deliveries,
                    "sync_runs_deleted": sync_runs,
                    "compliance_requests_deleted": exports,
                },
                "completed_at": timezone.now(),
            },
        )
    return request


def compliance_delivery_process(*, delivery: WebhookDelivery) -> str:
    """Dispatch a compliance delivery; returns a note for the delivery row."""
    if delivery.topic == DATA_REQUEST:
        exported = customer_data_request_fulfil(delivery=delivery)
        return f"export stored: compliance request {exported.pk}"
    if delivery.topic == CUSTOMER_REDACT:
        redacted = customer_redact_fulfil(delivery=delivery)
        return f"redacted: {redacted.result['deliveries_scrubbed']} deliveries scrubbed"
    if delivery.topic == SHOP_REDACT:
        erased = shop_redact_fulfil(delivery=delivery)
        return "shop data erased" if erased else "stale: the shop reinstalled since"
    raise inbox.DeliveryUnprocessable(f"not a compliance topic: {delivery.topic!r}")
