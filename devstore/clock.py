"""The demo's clock: seed months of history as if each event happened at its own moment.

``demo_setup`` places its orders at past moments. The store stamps them with that moment,
but Beam stamps what it does on receipt (members enrolled, points posted) with the time it
runs, so a demo seeded in one go showed all its members and points on the day it was seeded.
Running each store event under ``clock_at(moment)`` lets the webhook that event sends reach
Beam (in-process, eager tasks) at that moment too, through the same code as a live store.
Only the Django clock moves (``django.utils.timezone.now``): signatures and session tokens
keep real time. Used by the demo command only, never by a server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from unittest import mock


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Make ``timezone.now()`` answer ``moment`` (an aware datetime) for the block."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield
