"""The durable webhook inbox: record a delivery, claim due ones, process, retry.

Every delivery (a platform webhook or an order the reconciliation job pulled) is stored in
``WebhookDelivery`` before anyone acts on it; processing dispatches by topic to the handlers
the domain registers (``handler_register``, from its ``AppConfig.ready``: this app never
imports the domain), the compliance handlers or the shop lifecycle. A drain hands each
shop's claimed deliveries to their topic's handler as a batch, in delivery order; a batch
that fails is run again one delivery at a time, so failures, retries and parking stay
per delivery.

Lifecycle (STYLE rule 10)::

    received ──claim──▶ processing ──ok──▶ succeeded
       ▲                    │ └──shop gone──▶ skipped
       │                    └──payload refused / deterministic error──▶ unprocessable
       └── error, attempts < MAX_ATTEMPTS ──┘ (next_attempt_at = now + backoff)
                            └── error, attempts >= MAX_ATTEMPTS ──▶ failed (parked; replay)

``unprocessable`` is parked at once, after one attempt, with its reason in ``last_error``:
the payload broke the shape its handler checks (the handler returns it as refused), or
processing hit an error that only depends on the values (``DETERMINISTIC_ERRORS``: the
database refusing a value), so a retry could only fail again. It is replayed like
``failed`` (after a fix), which checks the payload again.

While a row is ``processing`` its ``next_attempt_at`` holds the claim's lease deadline, a
short one the working drain renews between runs: a worker that dies leaves a row whose lease
runs out within seconds, and the next drain counts that as a failed attempt and retries it
at once. The handlers are idempotent, so a delivery that is processed
again after a lost lease (or after its batch failed) has no second effect.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DataError, transaction
from django.db.models import Q
from django.utils import timezone

from merchants.models import Shop, WebhookDelivery
from merchants.services import shop_details_apply, uninstall_apply

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

ORDER_TOPICS = frozenset({"orders/paid", "orders/fulfilled", "orders/cancelled"})
REFUND_TOPIC = "refunds/create"
CUSTOMER_TOPICS = frozenset(
    {"customers/create", "customers/update", "customers/delete", "customers/merge"}
)
APP_UNINSTALLED = "app/uninstalled"
SHOP_UPDATE = "shop/update"
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# Topics with their own endpoint (/webhooks/<topic>), in the order of shopify.app.toml.
WEBHOOK_TOPICS: tuple[str, ...] = (
    "orders/paid",
    "orders/fulfilled",
    "orders/cancelled",
    REFUND_TOPIC,
    "customers/create",
    "customers/update",
    "customers/delete",
    "customers/merge",
    APP_UNINSTALLED,
    SHOP_UPDATE,
)
ALL_TOPICS = frozenset(WEBHOOK_TOPICS) | COMPLIANCE_TOPICS
# Product reviews a review app reports through Beam's own API (``/api/v1/reviews/``),
# stored here like the platform's deliveries and handled by the domain.
REVIEW_TOPIC = "beam/review"

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
# A claim not renewed for this long is abandoned (its worker died) and retried at once; the
# drain renews its batch's claim between runs once less than LEASE_RENEW_MARGIN is left.
PROCESSING_LEASE = timedelta(seconds=30)
LEASE_RENEW_MARGIN = timedelta(seconds=20)
DRAIN_BATCH_SIZE = 500
# A single drain stops claiming after this long so a task never runs unbounded.
DRAIN_TIME_BUDGET_SECONDS = 120.0
DRAIN_GATHER_SECONDS = 0.2
LAST_ERROR_MAX_CHARS = 2000


def backoff_delay(attempts: int) -> timedelta:
    """Delay before retry number ``attempts`` (1-based): 60 s, 120 s, … capped at one hour."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2**attempts, BACKOFF_CAP_SECONDS))


# --- claiming --------------------------------------------------------------------------


def _due_q(now: datetime) -> Q:
    return Q(status=Status.RECEIVED) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def _due_ids_lock(*, now: datetime, shop: Shop | None, limit: int) -> list[int]:
    """Lock up to ``limit`` due deliveries no other drain holds, oldest first (inside the
    caller's transaction)."""
    qs = WebhookDelivery.objects.filter(_due_q(now))
    if shop is not None:
        qs = qs.filter(shop=shop)
    return list(
        qs.order_by("pk").select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit]
    )


def deliveries_reclaim_abandoned(*, now: datetime | None = None) -> int:
    """Count a run-out claim (its worker died) as a failed attempt, retried at once (the
    delivery is probably not the cause) and, if it keeps killing workers, parked like any
    other failure."""
    now = now or timezone.now()
    reclaimed = 0
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.filter(status=Status.PROCESSING, next_attempt_at__lte=now)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .only("pk", "attempts", "next_attempt_at")[:DRAIN_BATCH_SIZE]
        )
        for row in rows:
            reclaimed += _failure_record(
                delivery=row,
                lease=row.next_attempt_at,
                error="ProcessingLeaseExpired: the worker processing it stopped",
                now=now,
                backoff=False,
            )
    return reclaimed


def deliveries_claim(
    *, limit: int = DRAIN_BATCH_SIZE, shop: Shop | None = None, now: datetime | None = None
) -> tuple[list[int], datetime]:
    """Claim up to ``limit`` due deliveries for this worker; returns their ids and the lease.

    ``SELECT … FOR UPDATE SKIP LOCKED`` lets concurrent drains take disjoint batches on
    PostgreSQL; the conditional status update is what makes a claim stick elsewhere.
    """
    now = now or timezone.now()
    lease = now + PROCESSING_LEASE
    with transaction.atomic():
        ids = _due_ids_lock(now=now, shop=shop, limit=limit)
        if not ids:
            return [], lease
        claimed = (
            WebhookDelivery.objects.filter(pk__in=ids)
            .filter(_due_q(now))
            .update(status=Status.PROCESSING, next_attempt_at=lease)
        )
        if claimed != len(ids):  # only without row locks (SQLite): keep what we really took
            ids = list(
                WebhookDelivery.objects.filter(
                    pk__in=ids, status=Status.PROCESSING, next_attempt_at=lease
                ).values_list("pk", flat=True)
            )
    return ids, lease


def _lease_renew(ids: list[int], *, lease: datetime) -> datetime:
    """Extend this worker's claim on ``ids`` once less than ``LEASE_RENEW_MARGIN`` is left;
    returns the lease to use from now on. Rows it no longer holds are not touched."""
    now = timezone.now()
    if lease - now > LEASE_RENEW_MARGIN:
        return lease
    renewed = now + PROCESSING_LEASE
    WebhookDelivery.objects.filter(
        pk__in=ids, status=Status.PROCESSING, next_attempt_at=lease
    ).update(next_attempt_at=renewed)
    return renewed


def _claim_one(delivery_id: int, *, now: datetime) -> datetime | None:
    """Claim one delivery regardless of its retry time (explicit processing, replay)."""
    lease = now + PROCESSING_LEASE
    claimed = WebhookDelivery.objects.filter(
        Q(status=Status.RECEIVED) | Q(status=Status.PROCESSING, next_attempt_at__lte=now),
        pk=delivery_id,
    ).update(status=Status.PROCESSING, next_attempt_at=lease)
    return lease if claimed else None


# --- processing ------------------------------------------------------------------------


class DeliveryUnprocessable(Exception):
    """The delivery can never be processed (unknown topic, payload refused by its handler):
    parked as ``unprocessable`` without retries; the message is the reason shown."""


# Errors that depend only on the delivery's values, never on timing: the database refusing
# a value (SQLSTATE class 22: out of range, too long, invalid text). Not ``IntegrityError``
# (a race on a unique key passes on retry) nor ``OperationalError`` (connection, deadlock).
DETERMINISTIC_ERRORS: tuple[type[Exception], ...] = (DeliveryUnprocessable, DataError)

# A handler does a shop's deliveries of its topics, in list order, idempotently, and
# returns those it refused (pk → reason: parked as unprocessable, the others succeeded);
# raising fails them all (the drain then runs each alone, so only the bad one is retried).
Handler = Callable[[Shop, list[WebhookDelivery]], Mapping[int, str] | None]
_handlers: dict[str, tuple[Handler, bool]] = {}


def handler_register(*, topics: Iterable[str], handler: Handler, batch: bool = True) -> None:
    """Route ``topics`` to ``handler`` (called by the domain's ``AppConfig.ready``).
    ``batch``: the handler takes many deliveries at once; otherwise it gets one at a time."""
    for topic in topics:
        _handlers[topic] = (handler, batch)


def _error_text(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return text[:LAST_ERROR_MAX_CHARS]


def _reason_text(exc: BaseException) -> str:
    """What webhook health shows for an unprocessable delivery: the handler's reason, or the
    first line of the database's complaint."""
    if isinstance(exc, DeliveryUnprocessable):
        return str(exc)[:LAST_ERROR_MAX_CHARS]
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return _error_text(f"the database refused a value ({type(exc).__name__}: {first_line})")


def _unprocessable_record(delivery: WebhookDelivery, *, lease: datetime, reason: str) -> int:
    """Park a delivery as ``unprocessable`` after this attempt: one warning line, no trace
    (the reason says it all and a retry cannot help)."""
    logger.warning(
        "webhook delivery %s (%s) unprocessable: %s", delivery.pk, delivery.topic, reason
    )
    return WebhookDelivery.objects.filter(
        pk=delivery.pk, status=Status.PROCESSING, next_attempt_at=lease
    ).update(
        status=Status.UNPROCESSABLE,
        attempts=delivery.attempts + 1,
        next_attempt_at=None,
        processed_at=timezone.now(),
        last_error=reason[:LAST_ERROR_MAX_CHARS],
    )


def _failure_record(
    *,
    delivery: WebhookDelivery,
    lease: datetime | None,
    error: BaseException | str,
    now: datetime,
    backoff: bool = True,
) -> int:
    """Count a failed attempt: back to ``received`` (due after the backoff, or at once), or
    parked as ``failed``."""
    attempts = delivery.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        status, next_attempt_at = Status.FAILED, None
    else:
        delay = backoff_delay(attempts) if backoff else timedelta(0)
        status, next_attempt_at = Status.RECEIVED, now + delay
    return WebhookDelivery.objects.filter(
        pk=delivery.pk, status=Status.PROCESSING, next_attempt_at=lease
    ).update(
        status=status,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        last_error=_error_text(error),
    )


def _shop_update_apply(*, shop: Shop, delivery: WebhookDelivery) -> str:
    """shop/update: copy name, email, currency and time zone, unless a newer shop/update
    already succeeded (deliveries arrive out of order)."""
    if delivery.triggered_at is not None:
        newer = (
            WebhookDelivery.objects.filter(
                shop=shop,
                topic=SHOP_UPDATE,
                status=Status.SUCCEEDED,
                triggered_at__gt=delivery.triggered_at,
            )
            .exclude(pk=delivery.pk)
            .exists()
        )
        if newer:
            return "stale: a newer shop/update was applied"
    shop_details_apply(shop=shop, details=delivery.payload)
    return ""


def _dispatch(delivery: WebhookDelivery) -> tuple[str, str]:
    """Run the delivery's domain work; returns the final status and a note."""
    from merchants import compliance

    shop = delivery.shop
    topic = delivery.topic
    if topic in COMPLIANCE_TOPICS:
        return Status.SUCCEEDED, compliance.compliance_delivery_process(delivery=delivery)
    if topic == APP_UNINSTALLED:
        uninstall_apply(shop=shop, triggered_at=delivery.triggered_at)
        return Status.SUCCEEDED, ""
    if not shop.is_active:
        return Status.SKIPPED, "shop uninstalled: not processed"
    if topic in _handlers:
        refused = _handlers[topic][0](shop, [delivery]) or {}
        if delivery.pk in refused:
            raise DeliveryUnprocessable(refused[delivery.pk])
    elif topic == SHOP_UPDATE:
        return Status.SUCCEEDED, _shop_update_apply(shop=shop, delivery=delivery)
    else:
        raise DeliveryUnprocessable(f"no handler for topic {topic!r}")
    return Status.SUCCEEDED, ""


def _claimed_run(delivery_id: int, *, lease: datetime) -> str | None:
    """Process a delivery this worker holds the claim on; returns its new status."""
    delivery = (
        WebhookDelivery.objects.select_related("shop")
        .filter(pk=delivery_id, status=Status.PROCESSING, next_attempt_at=lease)
        .first()
    )
    if delivery is None:
        return None
    return _delivery_run(delivery, lease=lease)


def _delivery_run(delivery: WebhookDelivery, *, lease: datetime) -> str:
    """Dispatch one claimed delivery and record the outcome. The dispatch is not wrapped in
    a transaction: the handlers own theirs and are idempotent, which makes a retry safe."""
    try:
        status, note = _dispatch(delivery)
    except DETERMINISTIC_ERRORS as exc:
        _unprocessable_record(delivery, lease=lease, reason=_reason_text(exc))
        return Status.UNPROCESSABLE
    except Exception as exc:
        logger.exception("webhook delivery %s (%s) failed", delivery.pk, delivery.topic)
        _failure_record(delivery=delivery, lease=lease, error=exc, now=timezone.now())
        attempts = delivery.attempts + 1
        return Status.FAILED if attempts >= MAX_ATTEMPTS else Status.RECEIVED
    _succeeded([delivery.pk], lease=lease, status=status, note=note)
    return status


def _succeeded(ids: list[int], *, lease: datetime, status: str, note: str = "") -> int:
    return WebhookDelivery.objects.filter(
        pk__in=ids, status=Status.PROCESSING, next_attempt_at=lease
    ).update(
        status=status,
        processed_at=timezone.now(),
        next_attempt_at=None,
        last_error="",
        note=note[:255],
    )


def _claimed_batch_run(ids: list[int], *, lease: datetime) -> int:
    """Process claimed deliveries: per shop, each run of consecutive deliveries whose topic
    has a batch handler goes to it at once; the rest (and a failed run) one by one, in
    order. Returns how many were processed."""
    deliveries = list(
        WebhookDelivery.objects.select_related("shop")
        .filter(pk__in=ids, status=Status.PROCESSING, next_attempt_at=lease)
        .order_by("pk")
    )
    by_shop: dict[int, list[WebhookDelivery]] = {}
    for delivery in deliveries:
        by_shop.setdefault(delivery.shop_id, []).append(delivery)
    for shop_deliveries in by_shop.values():
        for handler, run in _handler_runs(shop_deliveries):
            lease = _lease_renew(ids, lease=lease)
            if handler is not None and len(run) > 1:
                shop = run[0].shop
                shop.refresh_from_db(fields=["uninstalled_at"])  # an earlier run may uninstall
                if shop.is_active and _batch_handle(handler, shop, run, lease=lease):
                    continue
            for delivery in run:
                lease = _lease_renew(ids, lease=lease)
                _delivery_run(delivery, lease=lease)
    return len(deliveries)


def _handler_runs(
    deliveries: list[WebhookDelivery],
) -> list[tuple[Handler | None, list[WebhookDelivery]]]:
    """Consecutive deliveries sharing a batch handler, as runs (``None``: one at a time)."""
    runs: list[tuple[Handler | None, list[WebhookDelivery]]] = []
    for delivery in deliveries:
        handler, batch = _handlers.get(delivery.topic, (None, False))
        handler = handler if batch else None
        if runs and handler is not None and runs[-1][0] is handler:
            runs[-1][1].append(delivery)
        else:
            runs.append((handler, [delivery]))
    return runs


def _batch_handle(
    handler: Handler, shop: Shop, run: list[WebhookDelivery], *, lease: datetime
) -> bool:
    """Run a batch; ``False`` (nothing recorded) when it failed: it is then run one by one.
    The deliveries the handler refused are parked as unprocessable, the others succeeded."""
    try:
        refused = handler(shop, run) or {}
    except DETERMINISTIC_ERRORS as exc:  # which delivery is to blame shows one by one
        logger.warning("batch of %d: %s; they go one by one", len(run), _reason_text(exc))
        return False
    except Exception:
        logger.exception("batch of %d deliveries failed: they go one by one", len(run))
        return False
    for delivery in run:
        if delivery.pk in refused:
            _unprocessable_record(delivery, lease=lease, reason=refused[delivery.pk])
    _succeeded([d.pk for d in run if d.pk not in refused], lease=lease, status=Status.SUCCEEDED)
    return True


def delivery_process(*, delivery_id: int) -> str | None:
    """Claim and process one delivery now, whatever its retry time. Returns the new status,
    or ``None`` when it was not claimable (already done, parked, or held by a worker)."""
    lease = _claim_one(delivery_id, now=timezone.now())
    if lease is None:
        return None
    return _claimed_run(delivery_id, lease=lease)


@dataclass(frozen=True)
class DrainOutcome:
    processed: int
    budget_exhausted: bool  # work may be left: the caller should drain again


def deliveries_drain(
    *,
    batch_size: int = DRAIN_BATCH_SIZE,
    shop: Shop | None = None,
    time_budget: float = DRAIN_TIME_BUDGET_SECONDS,
    linger: float = 0.0,
) -> DrainOutcome:
    """Process due deliveries batch by batch until none is due or the time budget is spent.
    Safe to run in many workers at once: each claims a disjoint batch, which its topics'
    handlers get at once (``_claimed_batch_run``). ``linger``: return only once nothing was
    due at least this long after starting (the woken drain, see ``delivery_stored``)."""
    started = time.monotonic()
    processed = 0
    deliveries_reclaim_abandoned()
    while True:
        if time.monotonic() - started >= time_budget:
            return DrainOutcome(processed, budget_exhausted=True)
        ids, lease = deliveries_claim(limit=batch_size, shop=shop)
        if not ids:
            waited = time.monotonic() - started
            if waited >= linger:
                return DrainOutcome(processed, budget_exhausted=False)
            time.sleep(min(linger - waited, 0.05))
            continue
        with _gc_paused():
            processed += _claimed_batch_run(ids, lease=lease)
        if linger > 0 and len(ids) < batch_size:
            # Caught up with a stream of deliveries: let the next batch gather for a moment
            # (points a fraction of a second later; far fewer, larger, cheaper batches, and
            # the CPU left to the web processes acknowledging the stream).
            time.sleep(min(linger, DRAIN_GATHER_SECONDS))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one claimed batch. A batch allocates
    hundreds of thousands of short-lived objects (decoded payloads, rows), freed by
    reference counting; the collector's passes over them and over the whole heap cost about
    a fifth of the batch's CPU. It runs again (and finds any cycles) once the batch is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
