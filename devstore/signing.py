"""The platform's signatures, computed the way it documents them (SHOPIFY.md §1, §3, §4).

The devstore signs what it sends with these; Beam verifies with its own code, so the two
implementations check each other."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """OAuth / app-load query HMAC: drop ``hmac`` and ``signature``, sort, ``k=v`` joined
    by ``&`` (values percent-encoded, space as %20), HMAC-SHA256 lowercase hex."""
    message = "&".join(
        f"{key}={quote(str(value), safe='')}"
        for key, value in sorted(params.items())
        if key not in {"hmac", "signature"}
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def app_proxy_signature(params: Iterable[tuple[str, str]], secret: str) -> str:
    """App-proxy ``signature``: repeated keys joined with ``,``, ``k=v`` with decoded
    values, sorted, concatenated with no separator, HMAC-SHA256 hex."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        if key == "signature":
            continue
        grouped.setdefault(key, []).append(value)
    message = "".join(sorted(f"{key}={','.join(values)}" for key, values in grouped.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def webhook_hmac(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256 over the exact raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
