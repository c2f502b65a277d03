"""The one thin client for the platform's Admin GraphQL API.

Every call names its shop explicitly (no process-global session), uses the pinned
``SHOPIFY_API_VERSION``, a timeout, and a ``requests.Session`` of its own. Failures become
domain errors from ``merchants.errors``:

* uninstalled shop → ``ShopNotInstalled`` before any HTTP;
* ``THROTTLED`` (HTTP 200) → wait what ``throttleStatus`` says, then retry; HTTP 429 → wait
  ``Retry-After``, then retry; past the retry/wait budget → ``ShopifyApiError`` with code
  ``platform_throttled`` and ``retry_after`` set, so a task can reschedule itself;
* network errors and 5xx → bounded retries with exponential backoff, then ``ShopifyApiError``;
* HTTP 401 → one forced token refresh and one retry, then ``ShopifyAuthError`` (also when
  the refresh is refused);
* other 4xx or GraphQL ``errors`` → ``ShopifyApiError`` (not retried: the request is wrong);
* ``userErrors`` of a mutation (``AdminClient.mutate``) → ``ShopifyUserError``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings

from merchants.errors import (
    ShopifyApiError,
    ShopifyAuthError,
    ShopifyUserError,
    ShopNotInstalled,
)

if TYPE_CHECKING:
    from merchants.models import Shop

logger = logging.getLogger(__name__)

THROTTLED_CODE = "platform_throttled"
DEFAULT_MAX_ATTEMPTS = 4  # per failure kind: network/5xx, and throttling
DEFAULT_MAX_TOTAL_WAIT = 30.0  # seconds slept in one call, all retries together
BACKOFF_BASE = 0.5  # seconds; doubled on each network/5xx retry
MIN_THROTTLE_WAIT = 0.1


@dataclass(frozen=True)
class ThrottleStatus:
    """The leaky bucket as the platform reported it with the last response."""

    maximum_available: float
    currently_available: float
    restore_rate: float


@dataclass(frozen=True)
class QueryCost:
    requested: int | None
    actual: int | None
    throttle: ThrottleStatus | None


@dataclass(frozen=True)
class GraphQLResult:
    """The ``data`` of a successful response and what the call cost."""

    data: dict[str, Any]
    cost: QueryCost | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


def graphql_url(shop_domain: str) -> str:
    """The Admin GraphQL endpoint of one shop, at the pinned API version."""
    origin = settings.SHOPIFY_STORE_ORIGIN.format(shop=shop_domain)
    return f"{origin}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"


def _cost_parse(extensions: dict[str, Any] | None) -> QueryCost | None:
    cost = (extensions or {}).get("cost")
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus")
    throttle = None
    if isinstance(status, dict):
        try:
            throttle = ThrottleStatus(
                maximum_available=float(status.get("maximumAvailable", 0)),
                currently_available=float(status.get("currentlyAvailable", 0)),
                restore_rate=float(status.get("restoreRate", 0)),
            )
        except (TypeError, ValueError):
            throttle = None
    return QueryCost(
        requested=cost.get("requestedQueryCost"),
        actual=cost.get("actualQueryCost"),
        throttle=throttle,
    )


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` is seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _throttled(errors: list[Any]) -> bool:
    return any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
        for e in errors
    )


def _error_messages(errors: list[Any]) -> str:
    return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)


class AdminClient:
    """Admin GraphQL calls for one shop. Cheap to build; build one per unit of work.

    ``sleep`` is injectable so tests do not really wait; ``max_total_wait`` caps the seconds
    slept inside one ``execute`` call (throttling and backoff together)."""

    def __init__(
        self,
        shop: Shop,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_total_wait: float = DEFAULT_MAX_TOTAL_WAIT,
        timeout: float | None = None,
    ) -> None:
        self.shop = shop
        self.session = session or requests.Session()
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.max_total_wait = max_total_wait
        self.timeout = settings.SHOPIFY_HTTP_TIMEOUT if timeout is None else timeout
        self.last_cost: QueryCost | None = None

    # -- public ---------------------------------------------------------------------------

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> GraphQLResult:
        """Run one query or mutation and return its ``data``; see the module docstring for
        what each failure raises."""
        if self.shop.uninstalled_at is not None:
            raise ShopNotInstalled(f"{self.shop.domain} is not installed")
        from merchants import services  # late: services imports the shopify package

        token = self._access_token(services)
        url = graphql_url(self.shop.domain)
        body = {"query": document, "variables": variables or {}}
        waited = 0.0
        failures = 0
        throttles = 0
        refreshed = False
        while True:
            try:
                response = self.session.post(
                    url,
                    json=body,
                    headers={
                        "X-Shopify-Access-Token": token,
                        "Content-Type": "application/json",
                        "Accept": "application/json",
                    },
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures += 1
                waited += self._backoff_or_raise(failures, waited, f"network error: {exc}", exc)
                continue

            status = response.status_code
            if status == 401:
                if refreshed:
                    raise ShopifyAuthError(f"{self.shop.domain}: access token rejected")
                refreshed = True
                token = self._token_refresh(services, token)
                continue
            if status == 429:
                throttles += 1
                wait = _retry_after_seconds(response.headers.get("Retry-After"))
                waited += self._throttle_wait_or_raise(
                    throttles, waited, 1.0 if wait is None else wait
                )
                continue
            if status >= 500:
                failures += 1
                waited += self._backoff_or_raise(failures, waited, f"HTTP {status}", None)
                continue
            if status != 200:
                raise ShopifyApiError(
                    f"{self.shop.domain}: Admin API answered HTTP {status}: {response.text[:300]}"
                )

            try:
                payload = response.json()
            except ValueError as exc:
                raise ShopifyApiError(f"{self.shop.domain}: Admin API answered non-JSON") from exc
            if not isinstance(payload, dict):
                raise ShopifyApiError(f"{self.shop.domain}: Admin API answered {payload!r:.100}")
            extensions = payload.get("extensions") or {}
            cost = _cost_parse(extensions)
            self.last_cost = cost
            errors = payload.get("errors") or []
            if errors and _throttled(errors):
                throttles += 1
                waited += self._throttle_wait_or_raise(throttles, waited, self._throttle_wait(cost))
                continue
            if errors:
                raise ShopifyApiError(f"{self.shop.domain}: {_error_messages(errors)}")
            data = payload.get("data")
            if not isinstance(data, dict):
                raise ShopifyApiError(f"{self.shop.domain}: Admin API answered no data")
            return GraphQLResult(data=data, cost=cost, extensions=extensions)

    def mutate(self, document: str, variables: dict[str, Any], *, root: str) -> dict[str, Any]:
        """Run a mutation and return its payload (``data[root]``); raise ``ShopifyUserError``
        when the platform refused the input."""
        payload = self.execute(document, variables).data.get(root)
        if not isinstance(payload, dict):
            raise ShopifyApiError(f"{self.shop.domain}: {root} returned no payload")
        user_errors = payload.get("userErrors") or []
        if user_errors:
            raise ShopifyUserError(
                f"{root}: {_error_messages(user_errors)}", user_errors=list(user_errors)
            )
        return payload

    # -- retries --------------------------------------------------------------------------

    def _access_token(self, services: Any) -> str:
        """The token to call with, refreshed first when about to expire; a refused refresh
        is an auth error like a refused 401 refresh (callers handle platform errors)."""
        from merchants.shopify.oauth import TokenGrantRejected

        try:
            return str(services.shop_access_token(shop=self.shop))
        except TokenGrantRejected as exc:
            raise ShopifyAuthError(f"{self.shop.domain}: token refresh refused: {exc}") from exc

    def _token_refresh(self, services: Any, old_token: str) -> str:
        from merchants.shopify.oauth import TokenGrantRejected

        # A refused refresh means the grant is gone: an auth error. A refresh that could not
        # reach the platform stays a (retryable) ShopifyApiError.
        try:
            fresh = services.shop_token_refresh(shop=self.shop, force=True)
        except TokenGrantRejected as exc:
            raise ShopifyAuthError(f"{self.shop.domain}: token refresh refused: {exc}") from exc
        self.shop.access_token_encrypted = fresh.access_token_encrypted
        self.shop.access_token_expires_at = fresh.access_token_expires_at
        self.shop.refresh_token_encrypted = fresh.refresh_token_encrypted
        token = fresh.access_token
        if token == old_token:
            # Nothing to refresh with (a non-expiring token): retrying would 401 again.
            raise ShopifyAuthError(f"{self.shop.domain}: access token rejected")
        logger.info("admin api: retrying %s with a refreshed token", self.shop.domain)
        return token

    def _throttle_wait(self, cost: QueryCost | None) -> float:
        """Seconds until the bucket holds the requested cost again."""
        if cost is None or cost.throttle is None or cost.throttle.restore_rate <= 0:
            return 1.0
        needed = (cost.requested or 0) - cost.throttle.currently_available
        return max(needed / cost.throttle.restore_rate, MIN_THROTTLE_WAIT)

    def _throttle_wait_or_raise(self, throttles: int, waited: float, wait: float) -> float:
        if throttles >= self.max_attempts or waited + wait > self.max_total_wait:
            exc = ShopifyApiError(
                f"{self.shop.domain}: throttled (next try in {wait:.1f}s)", code=THROTTLED_CODE
            )
            exc.retry_after = wait  # type: ignore[attr-defined]
            raise exc
        logger.info("admin api throttled: %s, waiting %.2fs", self.shop.domain, wait)
        self.sleep(wait)
        return wait

    def _backoff_or_raise(
        self, failures: int, waited: float, reason: str, cause: Exception | None
    ) -> float:
        wait = BACKOFF_BASE * (2 ** (failures - 1))
        if failures >= self.max_attempts or waited + wait > self.max_total_wait:
            raise ShopifyApiError(
                f"{self.shop.domain}: Admin API failed after {failures} attempts ({reason})"
            ) from cause
        logger.warning("admin api %s: %s, retrying in %.2fs", self.shop.domain, reason, wait)
        self.sleep(wait)
        return wait
