"""The webhook intake's fast path: ``POST /webhooks/<topic>`` answered before Django's request
cycle, with the inserts of concurrent requests committed together.

On a Black-Friday burst the platform sends thousands of deliveries a second. The endpoint's
only job is to verify, store and answer (STYLE rule 10), yet through Django it pays for the
whole middleware stack (sessions, CSRF, auth, messages, htmx) that a machine-to-machine POST
never uses, and each delivery's ``INSERT`` is its own transaction. Here:

* ``IntakeApp`` wraps the WSGI application. A ``POST`` to one of the order, refund and
  customer topics is checked by ``merchants.shopify.webhooks.delivery_check`` — the same
  checks, in the same order, with the same answers as the Django view — and stored here;
  every other request (other paths and methods, ``app/uninstalled``, compliance topics, a
  body without ``Content-Length``, SQLite) goes to Django unchanged.
* ``GroupCommitter`` (per process, no thread of its own): the first request that finds no
  commit in flight writes all rows waiting in one prepared ``INSERT … VALUES … ON
  CONFLICT (webhook_id) DO NOTHING RETURNING``, one commit for all, while later requests
  wait and then lead the next one. A request is answered 200 only after the commit that
  holds its row: nothing is acknowledged before it is stored. A batch the database
  refuses (a value ``jsonb`` cannot hold) is retried row by row so only the bad delivery
  gets its 400; any other failure answers 503 and the platform retries.

Host validation (``ALLOWED_HOSTS``) still applies; the HTTPS redirect does not (the platform
only calls HTTPS endpoints, and a redirected POST would not be followed anyway).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import psycopg
from django.conf import settings
from django.db import DataError, connection
from django.http.request import split_domain_port, validate_host
from psycopg.types.numeric import Int8

from merchants import inbox
from merchants.models import WebhookDelivery
from merchants.shopify import webhooks

logger = logging.getLogger(__name__)

PREFIX = "/webhooks/"
# Topics with no work in the view itself (``app/uninstalled`` stops API calls at once and
# compliance topics read the shop fresh: both stay with Django).
FAST_TOPICS = frozenset(inbox.WEBHOOK_TOPICS) - {inbox.APP_UNINSTALLED}
BATCH_MAX = 500
# A leader lingers up to LINGER_SECONDS for LINGER_ROWS rows, only while deliveries arrive
# less than LINGER_IDLE apart (a quiet shop's webhook is written at once).
LINGER_SECONDS = 0.002
LINGER_ROWS = 8
LINGER_IDLE = 0.005
WAIT_SECONDS = 10.0
# Django turns psycopg's prepared statements off; the intake turns them back on for its own
# connections with this threshold, so only statements asked for with ``prepare=True`` are
# prepared. Not for every statement: the drain's set-based SQL measured slower once
# PostgreSQL switched it to generic plans.
PREPARE_ONLY_WHEN_ASKED = 1 << 30

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class IntakeUnavailable(Exception):
    """The row could not be stored (database down, commit timed out): answer 503."""


@dataclass
class _Pending:
    accepted: webhooks.Accepted
    done: threading.Event = field(default_factory=threading.Event)
    delivery_id: int | None = None  # set when this request's row was inserted
    error: BaseException | None = None
    lead: bool = False  # woken to lead the next commit, not with a result


# The columns each delivery brings, with the SQL of one row's parameters, and the columns
# every new delivery starts with (constants of the statement, never sent per row).
_SENT = {
    "shop_id": "%b",
    "webhook_id": "%b",
    "event_id": "%b",
    "topic": "%b",
    "resource_id": "%b",
    "api_version": "%b",
    "triggered_at": "%b",
    "headers": "%b::jsonb",
    "payload": "%b::jsonb",
}


def _initial() -> dict[str, str]:
    """The initial values of a stored delivery as SQL literals (from the model's own choices,
    so the fast path cannot drift from ``delivery_record``)."""
    source, status = WebhookDelivery.Source.WEBHOOK.value, WebhookDelivery.Status.RECEIVED.value
    if not (source.isidentifier() and status.isidentifier()):
        raise RuntimeError("intake: unexpected choice values")
    return {
        "source": f"'{source}'",
        "status": f"'{status}'",
        "attempts": "0",
        "next_attempt_at": "NULL",
        "last_error": "''",
        "note": "''",
        "received_at": "statement_timestamp()",
        "processed_at": "NULL",
    }


def _insert_head() -> tuple[str, str]:
    """``INSERT INTO … VALUES`` and one row's ``(…)`` (built once; a new model column must be
    added here too)."""
    initial = _initial()
    concrete = {f.column for f in WebhookDelivery._meta.concrete_fields if not f.primary_key}
    if concrete != set(_SENT) | set(initial):
        raise RuntimeError(
            f"intake columns out of date: {sorted(concrete ^ (set(_SENT) | set(initial)))}"
        )
    names = [*_SENT, *initial]
    head = f"INSERT INTO {WebhookDelivery._meta.db_table} ({', '.join(names)}) VALUES "  # noqa: S608
    return head, f"({', '.join([*_SENT.values(), *initial.values()])})"


_HEAD, _ROW = _insert_head()
_TAIL = " ON CONFLICT (webhook_id) DO NOTHING RETURNING id, webhook_id"


@functools.lru_cache(maxsize=BATCH_MAX)
def _insert_sql(rows: int) -> str:
    """The statement for ``rows`` deliveries: one row of parameters each (psycopg dumps each
    value with its C dumper, where arrays were dumped element by element in Python)."""
    return _HEAD + ", ".join([_ROW] * rows) + _TAIL


def _params(items: list[_Pending]) -> list[Any]:
    params: list[Any] = []
    for item in items:
        a = item.accepted
        resource_id = inbox._resource_id(a.payload)
        params += (
            Int8(a.shop.pk),  # one parameter type whatever the value: one prepared statement
            a.webhook_id,
            a.event_id[:255],
            a.topic,
            None if resource_id is None else Int8(resource_id),
            a.api_version[:16],
            a.triggered_at,
            json.dumps(a.headers),
            a.text,
        )
    return params


def _insert(items: list[_Pending]) -> None:
    """One statement, one commit: sets ``delivery_id`` of the rows inserted (the first of
    several requests carrying one webhook id wins; the others are duplicates)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:  # Django turns preparing off; ours is asked for by name
        raw.prepare_threshold = PREPARE_ONLY_WHEN_ASKED
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        # Prepared once per connection and batch size: a burst runs these thousands of
        # times, and parsing and planning each cost the server more than its rows did.
        cursor.execute(_insert_sql(len(items)), _params(items), prepare=True)  # autocommit
        inserted = {webhook_id: pk for pk, webhook_id in cursor.fetchall()}
    for item in items:
        item.delivery_id = inserted.pop(item.accepted.webhook_id, None)


class GroupCommitter:
    """Group commit with no writer thread (leader and followers): a request that finds no
    commit in flight leads one — it writes every row waiting, its own included — while
    the requests arriving meanwhile wait; when the commit is done the leader wakes each of
    them, and hands the lead to the first of those that came during its commit. Each
    waiting request is woken exactly once, by its result or by the lead."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self._pid = 0
        self._busy = False  # recent batches came close together: linger
        self._last = 0.0

    def store(self, accepted: webhooks.Accepted) -> int | None:
        """The new delivery's pk, or ``None`` for a duplicate webhook id. Raises
        ``DataError`` for values the database refuses, ``IntakeUnavailable`` otherwise."""
        item = _Pending(accepted)
        with self._cond:
            if self._pid != os.getpid():  # a forked child starts with no leader
                self._pid, self._queue, self._leading = os.getpid(), [], False
            self._queue.append(item)
            lead = not self._leading
            if lead:
                self._leading = True
            elif len(self._queue) >= LINGER_ROWS:
                self._cond.notify()  # enough rows for a lingering leader: no more waiting
        if not lead:
            if not item.done.wait(WAIT_SECONDS):
                with self._cond:
                    if item in self._queue and not item.lead:
                        self._queue.remove(item)  # never written: the platform retries
                        raise IntakeUnavailable("the intake commit timed out")
                item.done.wait()  # taken into a commit or handed the lead meanwhile
            lead = item.lead
        if lead:
            self._lead()
        if item.error is not None:
            raise item.error
        return item.delivery_id

    def _lead(self) -> None:
        with self._cond:
            # A commit costs far more than a row (the WAL flush): under load, wait a
            # moment for the requests already in flight to join this one.
            deadline = time.monotonic() + LINGER_SECONDS
            while self._busy and len(self._queue) < LINGER_ROWS:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
        self._busy = len(batch) > 1 or time.monotonic() - self._last < LINGER_IDLE
        self._last = time.monotonic()
        self._commit(batch)
        with self._cond:
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._leading = False
        if successor is not None:
            successor.lead = True
            successor.done.set()

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            try:
                _insert(batch)
            except DataError:
                for item in batch:  # find the delivery the database refuses
                    try:
                        _insert([item])
                    except DataError as exc:
                        item.error = exc
        except Exception as exc:  # connection lost, database down: 503, the platform retries
            logger.exception("webhook intake: %d deliveries not stored", len(batch))
            connection.close()
            for item in batch:
                if item.error is None:
                    item.error = IntakeUnavailable(str(exc))
        finally:
            for item in batch:
                item.done.set()


_committer = GroupCommitter()


_Encoded = tuple[str, tuple[tuple[str, str], ...], bytes]


def _encode(answer: webhooks.Answer) -> _Encoded:
    body = json.dumps(answer.body).encode()
    status = f"{answer.status} {HTTPStatus(answer.status).phrase}"
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if answer.allow:
        headers.append(("Allow", answer.allow))
    return status, tuple(headers), body


# The answers of nearly every delivery, encoded once.
_STORED, _DUPLICATE = _encode(webhooks.STORED), _encode(webhooks.DUPLICATE)


def _respond(start_response: Callable[..., Any], answer: webhooks.Answer) -> list[bytes]:
    if answer is webhooks.STORED:
        status, headers, body = _STORED
    elif answer is webhooks.DUPLICATE:
        status, headers, body = _DUPLICATE
    else:
        status, headers, body = _encode(answer)
    start_response(status, list(headers))
    return [body]


class _EnvironHeaders(Mapping[str, str]):
    """The request's headers read straight from the WSGI environ, named and looked up as
    Django's ``HttpHeaders`` does (case-insensitive), without building its dictionary for
    every delivery."""

    _UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        key = name.upper().replace("-", "_")
        return self._environ[key if key in self._UNPREFIXED else "HTTP_" + key]

    def __iter__(self) -> Iterator[str]:
        for key in self._environ:
            if key.startswith("HTTP_"):
                yield key[5:].replace("_", "-").title()
            elif key in self._UNPREFIXED:
                yield key.replace("_", "-").title()

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _host_allowed(environ: dict[str, Any]) -> bool:
    """``ALLOWED_HOSTS`` as Django applies it; behind ``USE_X_FORWARDED_HOST`` Django
    decides (False sends the request its way)."""
    if settings.USE_X_FORWARDED_HOST:
        return False
    domain, _ = split_domain_port(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


class IntakeApp:
    """WSGI middleware: the webhook fast path in front of ``app`` (Django)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.enabled = connection.vendor == "postgresql"  # unnest, ON CONFLICT … RETURNING

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):  # type: ignore[no-untyped-def]
        path = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not path.startswith(PREFIX)
            or path[len(PREFIX) :] not in FAST_TOPICS
            or not self.enabled
            or not _host_allowed(environ)
        ):
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return self.app(environ, start_response)  # chunked or odd: Django decides
        if length > settings.WEBHOOK_MAX_BODY_BYTES:
            return _respond(start_response, webhooks.TOO_LARGE)
        body = environ["wsgi.input"].read(length) if length else b""
        if len(body) != length:
            return _respond(start_response, webhooks.Answer(400, {"error": "incomplete_body"}))
        topic = path[len(PREFIX) :]
        return _respond(start_response, intake(body, _EnvironHeaders(environ), topic))


def intake(body: bytes, headers: Mapping[str, str], topic: str) -> webhooks.Answer:
    """Check, store (group commit) and answer one delivery of ``topic``'s endpoint."""
    checked = webhooks.delivery_check(body, headers, topics=frozenset({topic}))
    if isinstance(checked, webhooks.Answer):
        return checked
    try:
        delivery_id = _committer.store(checked)
    except DataError:
        return webhooks.INVALID_VALUES
    except IntakeUnavailable:
        return webhooks.Answer(503, {"error": "unavailable", "detail": "Try again."})
    if delivery_id is not None:
        inbox.delivery_stored(delivery_id=delivery_id)  # committed already
    return webhooks.stored_answer(created=delivery_id is not None)
