"""``manage.py webhooks_replay [--shop DOMAIN] [--id N ...] [--all-failed]``: run parked
(failed or unprocessable) or retry-waiting deliveries again now, e.g. after a handler was
fixed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from merchants import replay
from merchants.domains import shop_domain_normalise
from merchants.models import Shop, WebhookDelivery


class Command(BaseCommand):
    help = "Replay failed (or retry-waiting) webhook deliveries now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shop", help="only this shop's deliveries (myshopify domain)")
        parser.add_argument(
            "--id", dest="ids", type=int, nargs="+", action="extend", help="delivery ids"
        )
        parser.add_argument(
            "--all-failed",
            action="store_true",
            help="every parked (failed or unprocessable) delivery (of --shop if given)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ids: list[int] | None = options["ids"]
        domain: str | None = options["shop"]
        all_failed: bool = options["all_failed"]
        if not (ids or domain or all_failed):
            raise CommandError("Give --id, --shop or --all-failed.")
        shop = None
        if domain:
            normalised = shop_domain_normalise(domain)
            shop = Shop.objects.filter(domain=normalised).first() if normalised else None
            if shop is None:
                raise CommandError(f"No shop {domain!r}.")
        if ids is None and shop is None:
            ids = list(
                WebhookDelivery.objects.filter(status__in=replay.PARKED).values_list(
                    "pk", flat=True
                )
            )
        elif ids is None and all_failed:
            ids = list(
                WebhookDelivery.objects.filter(shop=shop, status__in=replay.PARKED).values_list(
                    "pk", flat=True
                )
            )
        outcome = replay.deliveries_replay(delivery_ids=ids, shop=shop)
        total = sum(outcome.values())
        summary = ", ".join(f"{status}={count}" for status, count in sorted(outcome.items()))
        self.stdout.write(f"replayed {total} deliveries" + (f": {summary}" if summary else ""))
