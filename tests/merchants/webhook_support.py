"""Shops, signed webhook requests and loyalty-call recorders for the webhook/inbox tests."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import factory
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from merchants import compliance
from merchants.models import Shop, WebhookDelivery
from merchants.shopify.signatures import webhook_hmac_compute

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
SHOP_DOMAIN = "beam-shop.myshopify.com"
TRIGGERED_AT = "2026-11-20T10:15:30.123456789Z"


class ShopFactory(factory.django.DjangoModelFactory):
    """An installed shop (tokens encrypted through the model's property)."""

    class Meta:
        model = Shop

    domain = factory.Sequence(lambda n: f"shop-{n}.myshopify.com")
    name = "Beam Test Shop"
    installed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    access_token = "x"


def fixture_payload(name: str, *, shop: str = SHOP_DOMAIN) -> dict[str, Any]:
    text = (FIXTURES / f"{name}.json").read_text().replace("{shop}.myshopify.com", shop)
    return json.loads(text)


def order_payload(
    order_id: int,
    *,
    customer_id: int = 7_000_000_000_000_000_001,
    email: str = "ann@example.com",
    financial_status: str = "paid",
    cancelled_at: str | None = None,
    refunds: list[dict[str, Any]] | None = None,
    updated_at: str = "2026-11-20T10:00:00-05:00",
) -> dict[str, Any]:
    """A REST order payload with the fields Beam's inbox looks at (shape of the fixture)."""
    address = {
        "first_name": "Ann",
        "last_name": "Lee",
        "name": "Ann Lee",
        "address1": "1 Main St",
        "city": "Ottawa",
        "zip": "K1A 0B1",
        "phone": "555-0100",
        "country_code": "CA",
    }
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": "#1001",
        "email": email,
        "contact_email": email,
        "phone": "+15550100",
        "financial_status": financial_status,
        "cancelled_at": cancelled_at,
        "updated_at": updated_at,
        "currency": "USD",
        "total_price": "414.95",
        "subtotal_price": "400.00",
        "note": "leave at the door",
        "browser_ip": "203.0.113.9",
        "billing_address": dict(address),
        "shipping_address": dict(address),
        "customer": {
            "id": customer_id,
            "email": email,
            "first_name": "Ann",
            "last_name": "Lee",
            "phone": "+15550100",
            "default_address": {**address, "id": 55, "customer_id": customer_id},
        },
        "line_items": [{"id": 1, "name": "Aviator sunglasses", "price": "89.99", "quantity": 1}],
        "refunds": refunds or [],
    }


def webhook_headers(
    topic: str,
    body: bytes,
    *,
    shop: str = SHOP_DOMAIN,
    webhook_id: str | None = None,
    secret: str | None = None,
    triggered_at: str | None = "now",
    **extra: str | None,
) -> dict[str, str]:
    """The headers the platform sends; ``extra`` overrides (``None`` drops a header)."""
    if triggered_at == "now":
        triggered_at = timezone.now().isoformat().replace("+00:00", "Z")
    headers: dict[str, str | None] = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": "evt-" + topic.replace("/", "-"),
        "X-Shopify-API-Version": settings.SHOPIFY_API_VERSION,
        "X-Shopify-Triggered-At": triggered_at,
        "X-Shopify-Hmac-Sha256": webhook_hmac_compute(
            body, secret=settings.SHOPIFY_API_SECRET if secret is None else secret
        ),
    }
    for name, value in extra.items():
        headers[name.replace("_", "-")] = value
    return {k: v for k, v in headers.items() if v is not None}


def webhook_post(
    client: Client,
    topic: str,
    payload: Any = None,
    *,
    path: str | None = None,
    body: bytes | None = None,
    **header_options: Any,
):  # type: ignore[no-untyped-def]
    """POST a correctly signed delivery (unless told otherwise) to its endpoint."""
    if body is None:
        body = json.dumps(payload if payload is not None else {}).encode()
    headers = webhook_headers(topic, body, **header_options)
    return client.post(
        path or f"/webhooks/{topic}", data=body, content_type="application/json", headers=headers
    )


@dataclass
class LoyaltyCalls:
    """Records the calls the inbox makes into ``loyalty.services`` (dispatch under test)."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failing: dict[str, BaseException] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=lambda: {"member": {"points": 120}})

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for n, kwargs in self.calls if n == name]

    def _recorder(self, name: str):  # type: ignore[no-untyped-def]
        def record(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            if name in self.failing:
                raise self.failing[name]
            if name == "customer_data_export":
                return {**self.export, "customer_id": kwargs["customer_id"]}
            return None

        return record


LOYALTY_ENTRY_POINTS = ("customer_webhook_process",)
PRIVACY_ENTRY_POINTS = ("customer_data_export", "customer_redact", "shop_data_erase")


def loyalty_calls_install(monkeypatch: pytest.MonkeyPatch) -> LoyaltyCalls:
    recorder = LoyaltyCalls()
    for name in LOYALTY_ENTRY_POINTS:
        monkeypatch.setattr(f"loyalty.services.{name}", recorder._recorder(name))
    order = recorder._recorder("order_webhook_process")
    refund = recorder._recorder("refund_webhook_process")

    def deliveries_credit(*, shop: Any, deliveries: list[Any]) -> dict[int, str]:
        """The crediting engine's batch, recorded as its deliveries' per-delivery calls
        (none refused)."""
        for d in deliveries:
            if d.topic == "refunds/create":
                refund(shop=shop, payload=d.payload)
            else:
                order(shop=shop, topic=d.topic, payload=d.payload, triggered_at=d.triggered_at)
        return {}

    monkeypatch.setattr("loyalty.services.deliveries_credit", deliveries_credit)
    privacy = compliance.DomainPrivacy(**{n: recorder._recorder(n) for n in PRIVACY_ENTRY_POINTS})
    monkeypatch.setattr(compliance, "_domain", [privacy])
    return recorder


def delivery_of(webhook_id: str) -> WebhookDelivery:
    return WebhookDelivery.objects.get(webhook_id=webhook_id)
