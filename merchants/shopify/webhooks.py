"""Webhook endpoints: verify → record → 200 → process (STYLE rule 10).

One endpoint per subscribed topic (``/webhooks/<topic>``) plus ``/webhooks/compliance`` for
the three privacy topics. The view only authenticates, validates and inserts the delivery:
one ``INSERT … ON CONFLICT (webhook_id) DO NOTHING``, the shop coming from a per-process
cache and the drain wake-up being throttled per process (see ``merchants.inbox``); workers
do the rest in batches.

Answers (JSON ``{"error": code, "detail": reason}`` on failure):
- 405 not POST; 413 body over ``WEBHOOK_MAX_BODY_BYTES``; 401 bad/missing HMAC (checked
  before anything else, so compliance topics always get 401 for a bad signature);
- 400 missing/invalid ``X-Shopify-Topic`` (or not this endpoint's topic),
  ``X-Shopify-Shop-Domain`` or ``X-Shopify-Webhook-Id``; body not a JSON object; body's
  shop domain differs from the header;
- 404 ``unknown_shop``: the signature is good but Beam has no such shop. For the compliance
  topics the answer is 200 instead: Beam holds no data for a shop it does not know;
- 403 ``shop_not_installed`` for an uninstalled shop, except ``app/uninstalled`` (idempotent)
  and the compliance topics, which must be honoured after uninstall;
- 200 ``{"ok": true, "duplicate": bool}`` once stored (a duplicate webhook id is a 200).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, connection, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from merchants import inbox, inbox_record
from merchants.domains import shop_domain_normalise
from merchants.models import Shop
from merchants.services import uninstall_apply
from merchants.shopify.signatures import webhook_hmac_valid

_SHOP_FIELDS = ("id", "domain", "installed_at", "uninstalled_at", "access_token_encrypted")
# domain -> (monotonic expiry, shop): a burst of deliveries for one shop costs no lookup.
_shop_cache: dict[str, tuple[float, Shop]] = {}


def shop_for_webhook(domain: str, *, fresh: bool = False) -> Shop | None:
    """The shop (only the fields the view needs), cached in this process for
    ``WEBHOOK_SHOP_CACHE_SECONDS``. A change saved through the model (install, uninstall,
    token refresh) drops the entry at once in the process that saved it; other processes
    see it within the cache time, and a delivery they record for a shop uninstalled
    meanwhile is skipped by the inbox (it checks the shop again before processing).
    Unknown domains are never cached, so an install is seen at once; ``fresh`` (lifecycle
    and compliance topics, which are rare) reads the row."""
    ttl = getattr(settings, "WEBHOOK_SHOP_CACHE_SECONDS", 1.0)
    now = time.monotonic()
    cached = _shop_cache.get(domain)
    if cached is not None and cached[0] > now and not fresh:
        return cached[1]
    shop = Shop.objects.only(*_SHOP_FIELDS).filter(domain=domain).first()
    if shop is None or ttl <= 0:
        _shop_cache.pop(domain, None)
    else:
        if len(_shop_cache) > 10_000:
            _shop_cache.clear()
        _shop_cache[domain] = (now + ttl, shop)
    return shop


def _shop_cache_drop(sender: type[Shop], instance: Shop, **kwargs: Any) -> None:
    _shop_cache.pop(instance.domain, None)


post_save.connect(_shop_cache_drop, sender=Shop, dispatch_uid="webhooks_shop_cache_save")
post_delete.connect(_shop_cache_drop, sender=Shop, dispatch_uid="webhooks_shop_cache_delete")


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


def _finite_float(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("number out of range")
    return number


def payload_parse(body: bytes | str) -> dict[str, Any] | None:
    """The body as a JSON object, or ``None``. Python's json keeps 64-bit ids exact; NaN,
    Infinity and overflowing floats are refused because no JSON column can store them."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _body_read(request: HttpRequest) -> bytes | None:
    """The raw body, or ``None`` when it exceeds the limit (refused before it is read when
    the client announces its length)."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > limit:
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= limit else None


def _shopify_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value[:1024]
        for name, value in headers.items()
        if name.lower().startswith("x-shopify-") and name.lower() != "x-shopify-hmac-sha256"
    }


@dataclass(frozen=True)
class Answer:
    """What the endpoint says: a status and a JSON body (``Allow`` for a 405)."""

    status: int
    body: dict[str, Any]
    allow: str | None = None


@dataclass(frozen=True)
class Accepted:
    """A delivery that passed every check and may be stored."""

    shop: Shop
    topic: str
    webhook_id: str
    payload: dict[str, Any]
    text: str  # the body as sent: stored as it is, no second serialisation
    event_id: str
    api_version: str
    triggered_at: datetime | None
    headers: dict[str, str]


def _error(status: int, code: str, detail: str) -> Answer:
    return Answer(status, {"error": code, "detail": detail})


METHOD_NOT_ALLOWED = Answer(
    405,
    {"error": "method_not_allowed", "detail": "Webhooks are delivered with POST."},
    allow="POST",
)
TOO_LARGE = _error(413, "payload_too_large", "The body exceeds the webhook size limit.")


def delivery_check(
    body: bytes, headers: Mapping[str, str], *, topics: frozenset[str]
) -> Accepted | Answer:
    """Every check of the module docstring, in its order, on a read body and the request's
    (case-insensitive) headers; shared by the Django view and the intake fast path
    (``merchants.intake``), so both answer alike."""
    secrets = [settings.SHOPIFY_API_SECRET, settings.SHOPIFY_API_SECRET_PREVIOUS]
    if not webhook_hmac_valid(body, headers.get("X-Shopify-Hmac-Sha256"), secrets=secrets):
        return _error(401, "invalid_signature", "X-Shopify-Hmac-Sha256 does not match the body.")

    topic = (headers.get("X-Shopify-Topic") or "").strip().lower()
    if not topic:
        return _error(400, "missing_header", "X-Shopify-Topic is required.")
    if topic not in topics:
        return _error(400, "topic_mismatch", f"Topic {topic[:64]!r} is not served here.")
    raw_domain = (headers.get("X-Shopify-Shop-Domain") or "").strip()
    if not raw_domain:
        return _error(400, "missing_header", "X-Shopify-Shop-Domain is required.")
    domain = shop_domain_normalise(raw_domain)
    if domain is None:
        return _error(400, "invalid_shop", "X-Shopify-Shop-Domain is not a myshopify.com domain.")
    webhook_id = (headers.get("X-Shopify-Webhook-Id") or "").strip()
    if not webhook_id:
        return _error(400, "missing_header", "X-Shopify-Webhook-Id is required.")
    if len(webhook_id) > 255:
        return _error(400, "invalid_header", "X-Shopify-Webhook-Id is too long.")

    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = None
    payload = None if text is None else payload_parse(text)
    if payload is None or text is None:
        return _error(400, "invalid_payload", "The body must be a JSON object.")
    for key in ("shop_domain", "myshopify_domain"):
        claimed = payload.get(key)
        if isinstance(claimed, str) and claimed.lower() != domain:
            return _error(400, "shop_mismatch", f"Body {key} differs from the header.")

    compliance = topic in inbox.COMPLIANCE_TOPICS
    shop = shop_for_webhook(domain, fresh=compliance or topic == inbox.APP_UNINSTALLED)
    if shop is None:
        if compliance:
            return Answer(200, {"ok": True, "detail": "Beam holds no data for this shop."})
        return _error(404, "unknown_shop", "Beam is not installed on this shop.")
    if not shop.is_active and not compliance and topic != inbox.APP_UNINSTALLED:
        return _error(403, "shop_not_installed", "Beam is not installed on this shop.")
    return Accepted(
        shop=shop,
        topic=topic,
        webhook_id=webhook_id,
        payload=payload,
        text=text,
        event_id=(headers.get("X-Shopify-Event-Id") or "").strip(),
        api_version=(headers.get("X-Shopify-API-Version") or "").strip(),
        triggered_at=inbox_record.triggered_at_parse(headers.get("X-Shopify-Triggered-At")),
        headers=_shopify_headers(headers),
    )


INVALID_VALUES = _error(400, "invalid_payload", "The body holds values that cannot be stored.")


STORED = Answer(200, {"ok": True, "duplicate": False})
DUPLICATE = Answer(200, {"ok": True, "duplicate": True})


def stored_answer(*, created: bool) -> Answer:
    return STORED if created else DUPLICATE


def _delivery_fields(accepted: Accepted) -> dict[str, Any]:
    return {
        "shop": accepted.shop,
        "webhook_id": accepted.webhook_id,
        "topic": accepted.topic,
        "payload": accepted.payload,
        "event_id": accepted.event_id,
        "api_version": accepted.api_version,
        "triggered_at": accepted.triggered_at,
        "headers": accepted.headers,
    }


def delivery_store(accepted: Accepted) -> Answer:
    """Store a checked delivery (one insert, committed before this returns when no
    transaction is open) and say so; the Django view's path. Other database errors
    propagate."""
    try:
        recorded = inbox_record.delivery_record(**_delivery_fields(accepted))
    except DataError:
        return INVALID_VALUES
    return stored_answer(created=recorded.created)


def deliveries_store(accepted: list[Accepted]) -> list[Answer]:
    """``delivery_store`` for many (the intake's writer, in autocommit). On PostgreSQL one
    multi-row insert, which commits by itself: one round trip and one commit for all.
    Elsewhere, or when the database refuses a value in it, one transaction with a
    savepoint per delivery, so only the bad one gets its 400."""
    if len(accepted) == 1:
        return [delivery_store(accepted[0])]
    if connection.vendor == "postgresql":
        rows = [inbox_record.delivery_build(**_delivery_fields(a)) for a in accepted]
        inside = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
        try:
            with inside:  # a savepoint only where a caller's transaction must survive
                pks = inbox_record.deliveries_insert(rows)
        except DataError:
            pass
        else:
            return [stored_answer(created=pk is not None) for pk in pks]
    with transaction.atomic():
        return [delivery_store(a) for a in accepted]


def _json(answer: Answer) -> JsonResponse:
    response = JsonResponse(answer.body, status=answer.status)
    if answer.allow:
        response["Allow"] = answer.allow
    return response


@csrf_exempt
def webhook_receive(request: HttpRequest, *, topics: frozenset[str]) -> JsonResponse:
    """Receive one delivery for ``topics`` (the endpoint's topic, or the compliance ones)."""
    if request.method != "POST":
        return _json(METHOD_NOT_ALLOWED)
    body = _body_read(request)
    if body is None:
        return _json(TOO_LARGE)
    checked = delivery_check(body, request.headers, topics=topics)
    if isinstance(checked, Answer):
        return _json(checked)
    answer = delivery_store(checked)
    if checked.topic == inbox.APP_UNINSTALLED and answer.status == 200:
        # Stop API calls now, not when the queue gets to it; data stays until shop/redact.
        uninstall_apply(shop=checked.shop, triggered_at=checked.triggered_at)
    return _json(answer)
