"""Import existing balances for a shop from a CSV file (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loyalty.services import members_import_balances
from merchants.models import Shop


class Command(BaseCommand):
    help = "Import balances: CSV columns customer_id, email, first_name, last_name, points."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shop", required=True, help="shop domain (x.myshopify.com)")
        parser.add_argument("path", help="CSV file (UTF-8)")
        parser.add_argument("--actor", default="import-command")

    def handle(self, *args: Any, **options: Any) -> None:
        shop = Shop.objects.filter(domain=options["shop"]).first()
        if shop is None:
            raise CommandError(f"unknown shop {options['shop']}")
        try:
            with open(options["path"], encoding="utf-8-sig", newline="") as fh:
                report = members_import_balances(shop=shop, csv_file=fh, actor=options["actor"])
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"rows={report.rows} created={report.created} changed={report.changed} "
            f"unchanged={report.unchanged} errors={len(report.errors)}"
        )
        for line_no, message in report.errors:
            self.stderr.write(f"line {line_no}: {message}")
        if report.errors:
            raise CommandError(f"{len(report.errors)} row(s) rejected")
