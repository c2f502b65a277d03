"""Beam's inbound API (mounted at ``/api/v1/``): review webhooks from a review app and the
merchant's custom-action calls. Machine to machine, so no session and no CSRF: every
request is authenticated by the shop's API key (``merchants.inbound_keys``) over the exact
raw body, counted against per-shop and per-address limits first, and answered in the one
JSON error shape with the reason. The payloads and the signing recipe are in docs/api.md.

* ``POST reviews/``: Beam's review payload, signed. Stored in the inbox (unique by the
  body's digest: a retry is a duplicate) and answered 202; the award follows from the
  inbox's handler (at once under eager Celery), so nothing is lost if it fails.
* ``POST reviews/judgeme?shop=<domain>&token=<url token>``: a Judge.me webhook mapped onto
  the same event (or signed like the above, when a sender can).
* ``POST actions/``: a custom action, awarded in the request: 201 awarded, 200 replayed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from loyalty.rules.inbound import (
    ReviewEvent,
    custom_action_parse,
    json_object,
    judgeme_review_parse,
    review_parse,
)
from loyalty.services.inbound import custom_action_call, review_webhook_id
from merchants.errors import BeamError
from merchants.inbound_keys import SHOP_HEADER, request_verify, url_token_verify
from merchants.inbox import REVIEW_TOPIC
from merchants.inbox_record import delivery_record
from merchants.models import Shop
from storefront_widget.errors import error_response, json_response
from storefront_widget.rate_limits import rate_limit_hits

BODY_MAX_BYTES = 64 * 1024
NOT_DOMAIN = re.compile(r"[^a-z0-9.-]")  # a cache key's part must be plain


class BodyTooLarge(BeamError):
    """The body is larger than the API takes."""

    code = "body_too_large"
    http_status = 413


def _inbound(view: Callable[[HttpRequest, bytes], HttpResponse]) -> Callable[..., HttpResponse]:
    """POST only, no CSRF (signed instead), limits counted before any work, the body read
    once and capped, and every ``BeamError`` answered in the one error shape."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        try:
            shop_named = request.headers.get(SHOP_HEADER) or request.GET.get("shop") or "-"
            rate_limit_hits(
                [
                    ("inbound", NOT_DOMAIN.sub("_", shop_named.strip().lower())[:255]),
                    ("inbound_ip", request.META.get("REMOTE_ADDR") or "-"),
                ]
            )
            body = request.body
            if len(body) > BODY_MAX_BYTES:
                raise BodyTooLarge(f"The body is larger than {BODY_MAX_BYTES} bytes.")
            return view(request, body)
        except BeamError as exc:
            return error_response(exc)

    return wrapped


def _review_store(shop: Shop, event: ReviewEvent, body: bytes) -> HttpResponse:
    recorded = delivery_record(
        shop=shop,
        webhook_id=review_webhook_id(shop, hashlib.sha256(body).hexdigest()),
        topic=REVIEW_TOPIC,
        payload=event.stored(),
        headers={"source": event.source},
    )
    delivery = recorded.delivery
    delivery.refresh_from_db(fields=["status", "last_error"])
    answer: dict[str, Any] = {
        "status": "accepted" if recorded.created else "duplicate",
        "review_id": event.review_id,
        "delivery": {"id": delivery.pk, "status": delivery.status},
    }
    if delivery.last_error:
        answer["delivery"]["reason"] = delivery.last_error
    return json_response(answer, status=202)


@_inbound
def review_webhook(request: HttpRequest, body: bytes) -> HttpResponse:
    """A review event in Beam's payload, signed with the shop's key."""
    shop = request_verify(body=body, headers=request.headers)
    return _review_store(shop, review_parse(json_object(body)), body)


@_inbound
def judgeme_webhook(request: HttpRequest, body: bytes) -> HttpResponse:
    """A Judge.me ``review/created`` or ``review/updated`` webhook; the URL's token (or a
    Beam signature) names the shop's key."""
    if request.headers.get(SHOP_HEADER):
        shop = request_verify(body=body, headers=request.headers)
    else:
        shop = url_token_verify(
            domain=request.GET.get("shop", ""), token=request.GET.get("token", "")
        )
    event = judgeme_review_parse(json_object(body), shop_domain=shop.domain)
    return _review_store(shop, event, body)


@_inbound
def custom_action(request: HttpRequest, body: bytes) -> HttpResponse:
    """Award a named custom action once per idempotency key."""
    shop = request_verify(body=body, headers=request.headers)
    call = custom_action_parse(json_object(body), now=timezone.now())
    result = custom_action_call(shop=shop, call=call)
    award = result.award
    return json_response(
        {
            "status": "replayed" if result.replayed else "awarded",
            "action": call.action,
            "idempotency_key": call.idempotency_key,
            "award": {
                "id": award.pk,
                "points": award.points,
                "occurred_on": award.occurred_on.isoformat(),
                "reversed": award.reversed_at is not None,
            },
        },
        status=200 if result.replayed else 201,
    )


__all__ = ["custom_action", "judgeme_webhook", "review_webhook"]
