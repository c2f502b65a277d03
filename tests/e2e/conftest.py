"""Browser tests drive Debian's Chromium through pytest-playwright (no downloaded browsers).

Every test collected here is a browser test (marked ``browser``, skipped without Chromium),
except those of the in-process modules in ``IN_PROCESS``; without playwright the browser
modules are not collected at all (they import it at module level)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
HERE = Path(__file__).resolve().parent
# Modules here that drive the devstore in-process, with no browser: neither marked nor skipped.
IN_PROCESS = frozenset({"test_platform_flow.py"})

# Playwright's sync API runs an event loop in the test thread; the ORM calls the browser tests
# make (set-up, checks, pytest-django's flush at teardown) are plain synchronous code. Set at
# collection so every worker that may run a browser test allows them from the start.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

if importlib.util.find_spec("playwright") is None:  # pragma: no cover
    collect_ignore = sorted(p.name for p in HERE.glob("test_*.py") if p.name not in IN_PROCESS)


def is_browser_test(item: pytest.Item) -> bool:
    """A test of a module of this folder that is not one of the in-process ones."""
    path = Path(item.path)
    return path.parent == HERE and path.name not in IN_PROCESS


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the browser tests (before ``-m`` selects on the mark) and skip them without
    Chromium. The hook sees the whole session's items: only this folder's are touched."""
    skip = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed")
    for item in items:
        if is_browser_test(item):
            item.add_marker(pytest.mark.browser)
            item.add_marker(skip)


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


@pytest.fixture
def live_beam(live_server: Any, settings: Any) -> str:
    """Beam and the devstore on the live server: the store admin frames Beam from it and
    Beam's calls to the store go there; the server's URL."""
    settings.SHOPIFY_APP_URL = live_server.url
    settings.SHOPIFY_STORE_ORIGIN = live_server.url + "/devstore/{shop}"
    return str(live_server.url)


@pytest.fixture
def live_beam_http(live_beam: str, platform_http: Any) -> str:
    """``live_beam`` with the platform's HTTP replayed in-process except the live server's
    own: the store's webhooks reach Beam over real HTTP."""
    platform_http.add_passthru(live_beam)
    return live_beam
