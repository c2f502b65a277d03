"""The webhook intake: ``POST /webhooks/<topic>`` read, verified, stored and answered in front of
Django's request cycle, each in a bounded time.

On a Black-Friday burst the platform sends thousands of deliveries a second. The endpoint's
only job is to verify, store and answer (STYLE rule 10), yet through Django it pays for the
whole middleware stack (sessions, CSRF, auth, messages, htmx) that a machine-to-machine POST
never uses. ``IntakeApp`` wraps the WSGI application:

* Every ``POST`` under ``/webhooks/`` has its body read here, with a deadline
  (``BODY_SECONDS``) and the size cap, by at most ``BODY_READERS`` threads of a process at
  once: a client that stalls mid-body costs one thread for a few seconds and many of them
  cannot take the threads the health check needs (408, 503 ``busy``, 413; nothing is
  stored, the platform retries). A chunked body is read too.
* A delivery of an order, refund or customer topic is checked by
  ``webhooks.delivery_check`` (the Django view's checks and answers) on the request's thread,
  then handed to the process's ``Writer``: one thread, a queue, and a future per request
  waited on with a timeout. The writer stores everything queued with one multi-row
  ``INSERT … ON CONFLICT (webhook_id) DO NOTHING`` in autocommit
  (``webhooks.deliveries_store``; the Django view's own insert, row by row in one
  transaction, when the database refuses a value), so a burst pays one round trip and one
  commit per batch instead of one per delivery. A request
  is answered 200 only after that commit; a batch that fails, or a writer that does not
  answer within ``WAIT_SECONDS``, answers 503 (not stored, the platform retries; a retry of
  a delivery stored late is a duplicate, 200).
  The drain's wake-ups run after the commit through robust ``on_commit`` callbacks: Redis
  down cannot turn a stored delivery into a 5xx. The writer's connection has a
  ``statement_timeout`` (the web views' and the Celery drain's do not).
* Everything else (other paths and methods, ``app/uninstalled``, compliance topics, a host
  outside ``ALLOWED_HOSTS``) goes to Django, with the body already read.

Why a writer thread: measured with ``bench/ingest.py`` (5,000 orders, on a shared 2-core
machine), storing each delivery on its request's thread (one autocommit insert, one commit
each) acknowledged 0.33 x the minimal view's rate with a p99 of 181 ms, short of the bars
(0.5 x, 50 ms); the writer measured 0.45 x with a p99 of 101 ms in the same conditions.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.backends.signals import connection_created
from django.http.request import split_domain_port, validate_host

from merchants import inbox
from merchants.shopify import webhooks

logger = logging.getLogger(__name__)

PREFIX = "/webhooks/"
# Topics with no work in the view itself (``app/uninstalled`` stops API calls at once and
# compliance topics read the shop fresh: both stay with Django).
FAST_TOPICS = frozenset(inbox.WEBHOOK_TOPICS) - {inbox.APP_UNINSTALLED}
BODY_SECONDS = 3.0  # the whole body, however it trickles (the platform gives up at ~5 s)
BODY_READERS = 8  # per process: half the Procfile's gunicorn threads (16)
BODY_READER_WAIT = 0.05  # a slot frees in microseconds unless its client stalls
BODY_CHUNK = 64 * 1024
BATCH_MAX = 500
STATEMENT_TIMEOUT_MS = 2000
WAIT_SECONDS = 5.0  # longer than a batch's statements can run, shorter than the platform waits
WRITER_THREAD = "webhook-intake-writer"

SLOW_BODY = webhooks.Answer(
    408, {"error": "request_timeout", "detail": "The body did not arrive in time."}
)
INCOMPLETE_BODY = webhooks.Answer(
    400, {"error": "incomplete_body", "detail": "The body is shorter than announced."}
)
BUSY = webhooks.Answer(
    503, {"error": "busy", "detail": "Too many bodies are being received. Try again."}
)
UNAVAILABLE = webhooks.Answer(503, {"error": "unavailable", "detail": "Try again."})

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_readers = threading.BoundedSemaphore(BODY_READERS)


@dataclass
class _Job:
    accepted: webhooks.Accepted
    future: Future[webhooks.Answer] = field(default_factory=Future)


class Writer:
    """One thread per process that stores what the requests queued: everything waiting
    when it looks, with ``webhooks.deliveries_store`` (one multi-row insert in autocommit:
    one round trip and one commit for the batch; row by row in one transaction when the
    database refuses a value, so only that delivery fails). Each request waits on its own
    future with a timeout; a failed batch fails only its own futures, and a thread that
    ended is started again by the next request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, accepted: webhooks.Accepted) -> Future[webhooks.Answer]:
        job = _Job(accepted)
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid, self._jobs = os.getpid(), queue.SimpleQueue()  # forked: start anew
                self._thread = threading.Thread(
                    target=self._run, args=(self._jobs,), name=WRITER_THREAD, daemon=True
                )
                self._thread.start()
            self._jobs.put(job)
        return job.future

    def stop(self) -> None:
        """Finish what is queued, close the thread's connection and end it (tests)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._jobs.put(None)
        if thread is not None:
            thread.join(WAIT_SECONDS)

    def _run(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        stop = False
        while not stop:
            batch: list[_Job] = []
            job = jobs.get()
            while job is not None:
                if job.future.set_running_or_notify_cancel():  # else its request gave up
                    batch.append(job)
                if len(batch) >= BATCH_MAX or jobs.empty():
                    break
                job = jobs.get()
            stop = job is None
            if batch:
                self._write(batch)
        connection.close()

    def _write(self, batch: list[_Job]) -> None:
        try:
            answers = webhooks.deliveries_store([job.accepted for job in batch])
        except Exception as exc:  # down, statement timeout, anything: nothing was stored
            logger.exception("webhook intake: %d deliveries not stored", len(batch))
            for job in batch:
                job.future.set_exception(exc)
        else:
            for job, answer in zip(batch, answers, strict=True):
                job.future.set_result(answer)
        finally:
            connection.close_if_unusable_or_obsolete()  # what Django's request cycle does


def _statement_timeout_set(sender: Any, connection: Any, **kwargs: Any) -> None:
    """The writer's connections only: a blocked insert fails in bounded time (web views
    and the Celery drain keep the server's default)."""
    if threading.current_thread().name == WRITER_THREAD and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")


connection_created.connect(_statement_timeout_set, dispatch_uid="intake_statement_timeout")
writer = Writer()


def _encode(answer: webhooks.Answer) -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps(answer.body).encode()
    status = f"{answer.status} {HTTPStatus(answer.status).phrase}"
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if answer.allow:
        headers.append(("Allow", answer.allow))
    return status, headers, body


def _respond(start_response: Callable[..., Any], answer: webhooks.Answer) -> list[bytes]:
    status, headers, body = _encode(answer)
    start_response(status, headers)
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


def _read_side_close(environ: dict[str, Any]) -> None:
    """Stop reading from a client whose body is refused: the server would otherwise keep the
    thread to drain the rest of it. Plain sockets only (shutting a TLS socket ends TLS)."""
    sock = environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket):
        with contextlib.suppress(OSError):  # gone already
            sock.shutdown(socket.SHUT_RD)


def body_read(environ: dict[str, Any]) -> bytes | webhooks.Answer:
    """The request body, or the answer refusing it. Chunked bodies are read to their end;
    under gunicorn each read waits at most until the body's deadline (a socket timeout), and
    the bytes read are capped at ``WEBHOOK_MAX_BODY_BYTES``."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    chunked = environ.get("HTTP_TRANSFER_ENCODING", "").strip().lower() == "chunked"
    try:
        wanted = limit + 1 if chunked else max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        wanted = 0  # as Django reads it
    if wanted > limit and not chunked:
        return webhooks.TOO_LARGE
    if wanted == 0:
        return b""
    if not _readers.acquire(timeout=BODY_READER_WAIT):
        return BUSY
    try:
        body = _body_receive(environ, wanted)
    finally:
        _readers.release()
    if isinstance(body, bytes) and len(body) > limit:
        return webhooks.TOO_LARGE
    if isinstance(body, bytes) and not chunked and len(body) != wanted:
        return INCOMPLETE_BODY
    return body


def _body_receive(environ: dict[str, Any], wanted: int) -> bytes | webhooks.Answer:
    stream = environ["wsgi.input"]
    found = environ.get("gunicorn.socket")
    sock = found if isinstance(found, socket.socket) else None
    prior = sock.gettimeout() if sock is not None else None
    deadline = time.monotonic() + BODY_SECONDS
    parts: list[bytes] = []
    size = 0
    try:
        while size < wanted:
            left = deadline - time.monotonic()
            if left <= 0:
                return SLOW_BODY
            if sock is not None:
                sock.settimeout(left)
            part = stream.read(min(BODY_CHUNK, wanted - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
    except TimeoutError:
        return SLOW_BODY
    except OSError:  # the client went away, or a malformed chunk
        return INCOMPLETE_BODY
    finally:
        if sock is not None:
            sock.settimeout(prior)
    return b"".join(parts)


class IntakeApp:
    """WSGI middleware: the webhook intake in front of ``app`` (Django)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not path.startswith(PREFIX)
            or not _host_allowed(environ)
        ):
            return self.app(environ, start_response)
        body = body_read(environ)
        if isinstance(body, webhooks.Answer):
            _read_side_close(environ)
            return _respond(start_response, body)
        topic = path[len(PREFIX) :]
        if topic not in FAST_TOPICS:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return self.app(environ, start_response)
        return _respond(start_response, intake(body, _EnvironHeaders(environ), topic))


def intake(body: bytes, headers: Mapping[str, str], topic: str) -> webhooks.Answer:
    """Check, store (the writer) and answer one delivery of ``topic``'s endpoint: 200 only
    once its commit is done, 503 when it is not stored in ``WAIT_SECONDS``."""
    try:
        checked = webhooks.delivery_check(body, headers, topics=frozenset({topic}))
    except DatabaseError:  # the shop could not be read: not stored, retried
        logger.exception("webhook intake: a %s delivery not checked", topic)
        connection.close_if_unusable_or_obsolete()
        return UNAVAILABLE
    if isinstance(checked, webhooks.Answer):
        return checked
    future = writer.submit(checked)
    try:
        return future.result(timeout=WAIT_SECONDS)
    except TimeoutError:
        future.cancel()  # still queued: never written; being written: a retry is a duplicate
        logger.error("webhook intake: delivery %s not stored in time", checked.webhook_id)
        return UNAVAILABLE
    except Exception:  # the batch failed (logged by the writer): nothing of it is stored
        return UNAVAILABLE
