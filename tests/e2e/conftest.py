"""Browser tests drive Debian's Chromium through pytest-playwright (no downloaded browsers)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")

# Playwright's sync API runs an event loop in the test thread; the ORM calls the browser tests
# make (set-up, checks, pytest-django's flush at teardown) are plain synchronous code. Set at
# collection so every worker that may run a browser test allows them from the start.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture(scope="session", autouse=True)
def _admin_schema_loaded() -> None:
    """Build the Admin schema once per worker before any browser waits on the devstore: its
    first load takes about a second (several on a busy machine), which would otherwise land
    inside the first redemption a browser test times."""
    from merchants.shopify.admin_schema import admin_schema

    admin_schema()
