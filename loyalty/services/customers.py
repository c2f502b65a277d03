"""Customer webhooks: members created, updated, deleted and merged from the store's customers."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from loyalty.errors import PayloadInvalid
from loyalty.payload_checks import customer_payload_problem
from loyalty.payloads import int_or_none, name_cut
from loyalty.services.crediting import guest_orders_link
from loyalty.services.earning_actions import newsletter_consent_apply
from loyalty.services.ledger import Kind, ledger_post, member_lock
from loyalty.services.members import member_upsert
from loyalty.services.privacy import customer_redact
from loyalty.services.program_config import program_get_or_create
from loyalty.services.tiers import tier_new_member_grant
from merchants.models import Shop

logger = logging.getLogger(__name__)


def customer_webhook_process(*, shop: Shop, topic: str, payload: dict[str, Any]) -> None:
    """Handle customers/create, customers/update, customers/delete, customers/merge.

    ``customers/create`` creates the member, gives the welcome points once and credits the
    guest orders placed with the same email within the window; either topic with the
    email marketing consent ``subscribed`` gives the newsletter points once.
    ``PayloadInvalid`` when the payload's shape is refused (``payload_checks``; nothing
    written); names are cut to their column.
    """
    problem = customer_payload_problem(topic, payload)
    if problem is not None:
        raise PayloadInvalid(problem)
    customer_id = int_or_none(payload.get("id"))
    if customer_id is None:
        return
    if topic == "customers/delete":
        customer_redact(shop=shop, customer_id=customer_id, email=payload.get("email"))
        return
    if topic not in ("customers/create", "customers/update"):
        logger.info("customer topic %s ignored", topic)
        return
    with transaction.atomic(durable=True):
        program = program_get_or_create(shop=shop)
        member, created = member_upsert(
            shop=shop,
            customer_id=customer_id,
            email=payload.get("email"),
            first_name=name_cut(payload.get("first_name")),
            last_name=name_cut(payload.get("last_name")),
        )
        if topic == "customers/create" and program.enabled and program.welcome_points:
            locked = member_lock(shop_id=shop.pk, member_id=member.pk)
            ledger_post(
                member=locked,
                amount=program.welcome_points,
                kind=Kind.WELCOME,
                key=f"welcome:{customer_id}",
                source_type="customer",
                source_id=customer_id,
                note="Welcome points",
                earned=program.welcome_points,
                activity_at=timezone.now(),
            )
        if created:
            tier_new_member_grant(shop=shop, member=member)
        newsletter_consent_apply(shop=shop, member=member, payload=payload)
        guest_orders_link(shop=shop, member=member, program=program)
