"""``manage.py workers_health [--worker NAME] [--max-age S]``: exit 0 when a worker (that
worker) consumed within the limit, 1 otherwise; for a supervisor's or container's health
check."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.worker_health import worker_heartbeat_age


class Command(BaseCommand):
    help = "Fail (exit 1) when no Celery worker has consumed recently."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--worker", default=None, help="a worker's hostname (celery@host)")
        parser.add_argument(
            "--max-age",
            type=float,
            default=settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS,
            help="seconds a heartbeat stays fresh",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        who = options["worker"] or "any worker"
        age = worker_heartbeat_age(hostname=options["worker"])
        if age is None:
            raise CommandError(f"{who}: no heartbeat")
        if age > options["max_age"]:
            raise CommandError(f"{who}: last heartbeat {age:.1f}s ago")
        self.stdout.write(f"{who}: last heartbeat {age:.1f}s ago")
