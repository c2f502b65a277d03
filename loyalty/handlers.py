"""The domain's handlers for the inbox's topics, registered in ``LoyaltyConfig.ready``:
the inbox hands over claimed deliveries; ``merchants`` never imports ``loyalty``."""

from __future__ import annotations

from loyalty.errors import PayloadInvalid
from merchants import compliance, inbox
from merchants.models import Shop, WebhookDelivery

CREDITING_TOPICS = ("orders/paid", "orders/fulfilled", "orders/cancelled", "refunds/create")


def crediting_handle(shop: Shop, deliveries: list[WebhookDelivery]) -> dict[int, str]:
    """Orders and refunds of one shop: one batch of the crediting engine. Returns the
    deliveries whose payload it refused (by pk, with the reason): the inbox parks them."""
    from loyalty.services import Delivery, deliveries_credit

    refused = deliveries_credit(
        shop=shop,
        deliveries=[Delivery(d.topic, d.payload, d.triggered_at) for d in deliveries],
    )
    return {deliveries[index].pk: reason for index, reason in refused.items()}


def customer_handle(shop: Shop, deliveries: list[WebhookDelivery]) -> dict[int, str]:
    """Customer deliveries one by one; a refused payload is returned (by pk, with the
    reason) for the inbox to park."""
    from loyalty.services import customer_webhook_process

    refused: dict[int, str] = {}
    for delivery in deliveries:
        try:
            customer_webhook_process(shop=shop, topic=delivery.topic, payload=delivery.payload)
        except PayloadInvalid as exc:
            refused[delivery.pk] = str(exc)
    return refused


def review_handle(shop: Shop, deliveries: list[WebhookDelivery]) -> dict[int, str]:
    """Review events one by one (``review_apply``); one naming nobody who can earn is
    returned with the reason for the inbox to park (replayable once the member exists)."""
    from loyalty.services.inbound import review_apply

    refused: dict[int, str] = {}
    for delivery in deliveries:
        try:
            review_apply(shop=shop, payload=delivery.payload)
        except PayloadInvalid as exc:
            refused[delivery.pk] = str(exc)
    return refused


def handlers_register() -> None:
    from loyalty import services

    inbox.handler_register(topics=CREDITING_TOPICS, handler=crediting_handle)
    inbox.handler_register(
        topics=sorted(inbox.CUSTOMER_TOPICS), handler=customer_handle, batch=False
    )
    inbox.handler_register(topics=[inbox.REVIEW_TOPIC], handler=review_handle, batch=False)
    compliance.privacy_handlers_register(
        compliance.DomainPrivacy(
            customer_data_export=services.customer_data_export,
            customer_redact=services.customer_redact,
            shop_data_erase=services.shop_data_erase,
        )
    )
