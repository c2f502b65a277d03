from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from tests.platform_http import platform_mock


@pytest.fixture(autouse=True)
def platform_http() -> Iterator[responses.RequestsMock]:
    """No real network in tests: the devstore and Beam answer in-process (see platform_http)."""
    with platform_mock() as mock:
        yield mock


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    from django.core.cache import cache

    from core.redis_cache import cache_state_reset
    from storefront_widget.rate_limits import _LOCAL_COUNTS

    cache_state_reset()
    _LOCAL_COUNTS.clear()
    cache.clear()
    yield
    cache.clear()
    cache_state_reset()
    _LOCAL_COUNTS.clear()
