"""Export a shop's members or ledger as CSV."""

from __future__ import annotations

import sys
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.selectors import ledger_export_csv, members_export_csv
from merchants.models import Shop


class Command(BaseCommand):
    help = "Export members or the ledger of a shop as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shop", required=True, help="shop domain (x.myshopify.com)")
        parser.add_argument("--what", choices=["members", "ledger"], default="members")
        parser.add_argument("--output", default="-", help="file path, - for stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        shop = Shop.objects.filter(domain=options["shop"]).first()
        if shop is None:
            raise CommandError(f"unknown shop {options['shop']}")
        export = members_export_csv if options["what"] == "members" else ledger_export_csv
        if options["output"] == "-":
            count = export(shop=shop, out=cast(IO[str], self.stdout))  # a text stream
        else:
            with open(options["output"], "w", encoding="utf-8", newline="") as fh:
                count = export(shop=shop, out=fh)
        sys.stderr.write(f"{count} row(s) exported\n")
