"""Signed calls to Beam's inbound API (/api/v1/) the way docs/api.md tells senders to."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from django.test import Client

from loyalty.services.inbound import api_key_create
from merchants.models import Shop


def key_for(shop: Shop) -> str:
    """Create (or rotate) the shop's API key; the key shown once."""
    return api_key_create(shop=shop, actor="test").key


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def signed_post(
    client: Client,
    path: str,
    data: dict[str, Any] | bytes,
    *,
    shop: Shop | str,
    key: str | None,
    signature: str | None = None,
) -> Any:
    """POST ``data`` (JSON) to ``/api/v1/<path>`` signed with ``key`` (None: unsigned)."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    headers = {"X-Beam-Shop-Domain": shop if isinstance(shop, str) else shop.domain}
    if signature is not None:
        headers["X-Beam-Hmac-Sha256"] = signature
    elif key is not None:
        headers["X-Beam-Hmac-Sha256"] = sign(body, key)
    return client.post(
        f"/api/v1/{path}", data=body, content_type="application/json", headers=headers
    )


def review(review_id: str = "r-1", **overrides: Any) -> dict[str, Any]:
    """Beam's review payload, a published five-star review without a photo by default."""
    return {
        "event": "created",
        "review_id": review_id,
        "customer_id": None,
        "email": None,
        "product_id": "8302173290794",
        "rating": 5,
        "has_photo": False,
        "published": True,
        **overrides,
    }
