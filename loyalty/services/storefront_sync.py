"""The store's copy of the branding: the theme app extension renders the launcher from an
app-data metafield (``app.metafields.loyalty.branding``), so every branding change is
published to the store. A change marks the program pending in its own transaction; the task
publishes the branding as it is then (so quick edits coalesce) and clears the mark only if
nothing changed meanwhile; the periodic sweep retries what is still pending, and the Branding
page shows a publication that keeps failing."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from loyalty.branding import branding_resolve
from loyalty.models import LoyaltyProgram
from merchants.errors import BeamError
from merchants.shopify.operations import app_data_json_set

logger = logging.getLogger(__name__)

PUBLISH_RETRY_AFTER = timedelta(minutes=1)
STOREFRONT_BRANDING_KEYS = (
    "primary_color",
    "text_color",
    "position",
    "shape",
    "icon",
    "launcher_label",
    "show_on_mobile",
)


def storefront_branding(program: LoyaltyProgram) -> dict[str, object]:
    """What the launcher embed reads: the launcher's look, from the one stored branding."""
    resolved = branding_resolve(program.branding)
    return {key: resolved[key] for key in STOREFRONT_BRANDING_KEYS}


def branding_publish_mark(program: LoyaltyProgram) -> list[str]:
    """Mark the program's branding as not yet on the store (the caller saves the fields
    returned and queues ``branding_publish`` after its commit)."""
    program.branding_publish_pending = True
    return ["branding_publish_pending"]


def branding_publish(*, program_id: int) -> bool:
    """Publish the program's current branding to its store; True when the store has it.
    A platform failure is recorded for the Branding page and raised for the task's retry."""
    program = LoyaltyProgram.objects.select_related("shop").filter(pk=program_id).first()
    if program is None or not program.branding_publish_pending or not program.shop.is_active:
        return program is not None and not program.branding_publish_pending
    seen = program.updated_at
    try:
        app_data_json_set(program.shop, key="branding", value=storefront_branding(program))
    except BeamError as exc:
        LoyaltyProgram.objects.filter(pk=program.pk).update(branding_publish_error=str(exc)[:255])
        raise
    # Cleared only when no change came in meanwhile; a later change is published again.
    LoyaltyProgram.objects.filter(pk=program.pk, updated_at=seen).update(
        branding_publish_pending=False,
        branding_published_at=timezone.now(),
        branding_publish_error="",
    )
    return True


def branding_publish_due() -> list[int]:
    """Programs whose branding is still not on the store a minute after the change (a lost
    task, a platform outage): the periodic sweep queues them again."""
    cutoff = timezone.now() - PUBLISH_RETRY_AFTER
    return list(
        LoyaltyProgram.objects.filter(
            branding_publish_pending=True,
            updated_at__lt=cutoff,
            shop__uninstalled_at__isnull=True,
        ).values_list("pk", flat=True)
    )
