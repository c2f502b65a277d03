"""The simulated review app and custom-action sender: what a real review app (or the
merchant's own system) does with Beam's API key — sign each JSON body with it and post it
to Beam's inbound API (docs/api.md), so ``make run`` shows reviews and custom actions
earning points end to end."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from devstore.errors import DevstoreError
from devstore.models import DevCustomer, DevProduct, DevReview, DevReviewApp, DevShop

TIMEOUT = 5.0


def review_app_connect(shop: DevShop, api_key: str) -> DevReviewApp:
    """Keep the key the merchant pasted (the simulator's own copy, as a real app would)."""
    api_key = api_key.strip()
    if not api_key:
        raise DevstoreError("Paste the API key from Beam's Ways to earn page.")
    app, _ = DevReviewApp.objects.update_or_create(shop=shop, defaults={"beam_api_key": api_key})
    return app


def beam_post(shop: DevShop, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST ``payload`` to Beam's ``/api/v1/<path>`` signed with the shop's key."""
    app = DevReviewApp.objects.filter(shop=shop).first()
    if app is None:
        raise DevstoreError("Connect the review app first (paste Beam's API key).")
    body = json.dumps(payload).encode()
    digest = hmac.new(app.beam_api_key.encode(), body, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "X-Beam-Shop-Domain": shop.domain,
        "X-Beam-Hmac-Sha256": base64.b64encode(digest).decode(),
    }
    url = f"{settings.SHOPIFY_APP_URL}/api/v1/{path}"
    try:
        response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise DevstoreError(f"Beam did not answer: {exc}") from exc
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    return response.status_code, answer if isinstance(answer, dict) else {}


def _said(status: int, answer: dict[str, Any]) -> str:
    error = answer.get("error")
    if isinstance(error, dict):
        return f"HTTP {status}: {error.get('message', '')}"[:255]
    return f"HTTP {status}: {answer.get('status', '')}"[:255]


def _review_payload(review: DevReview, event: str) -> dict[str, Any]:
    return {
        "event": event,
        "review_id": review.review_id,
        "customer_id": review.customer_id,
        "email": review.customer.email,
        "product_id": str(review.product_id),
        "rating": review.rating,
        "has_photo": review.has_photo,
        "published": True,
    }


def review_write(
    shop: DevShop, customer: DevCustomer, product: DevProduct, *, rating: int, has_photo: bool
) -> DevReview:
    """A shopper's review, published at once; Beam hears ``created``."""
    if not 1 <= rating <= 5:
        raise DevstoreError("A rating from 1 to 5.")
    review = DevReview.objects.create(
        shop=shop, customer=customer, product=product, rating=rating, has_photo=has_photo
    )
    review.last_response = _said(*beam_post(shop, "reviews/", _review_payload(review, "created")))
    review.save(update_fields=["last_response"])
    return review


def review_delete(review: DevReview) -> DevReview:
    """The merchant deletes the review; Beam hears ``deleted`` (and takes the points back)."""
    review.deleted_at = review.deleted_at or timezone.now()
    payload = _review_payload(review, "deleted")
    review.last_response = _said(*beam_post(review.shop, "reviews/", payload))
    review.save(update_fields=["deleted_at", "last_response"])
    return review


def custom_action_fire(
    shop: DevShop, customer: DevCustomer, *, action: str, idempotency_key: str
) -> str:
    """The merchant's system reports a custom action (a replayed key awards nothing more)."""
    payload = {
        "action": action,
        "customer_id": customer.pk,
        "email": customer.email,
        "idempotency_key": idempotency_key,
    }
    return _said(*beam_post(shop, "actions/", payload))
