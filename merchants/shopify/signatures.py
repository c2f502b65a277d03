"""Every signature the platform puts on what it sends Beam, verified in constant time.

- OAuth / app-URL query HMAC (hex, sorted ``key=value`` joined by ``&``): the platform's
  library, ``shopify.Session.calculate_hmac``/``validate_hmac``, and the documented form with
  percent-encoded values (SHOPIFY.md §1) — the platform's own libraries disagree on how a
  value with ``/ + = : space`` is written in the signed message, so either form is accepted
- webhook HMAC (base64 of HMAC-SHA256 over the raw body)
- app-proxy signature (hex, sorted ``key=value`` with decoded values, no separator)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote

from merchants.shopify.library_session import app_session_class

# The platform leaves the legacy ``signature`` out of the signed message; the library
# would sign it like any other parameter, so it is dropped before the library sees it.
_LEGACY_QUERY_SIGNATURE = "signature"


def _hex_hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


# a query: a mapping or (key, value) pairs, a value being one string or a key's list of them
QueryParams = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str | Sequence[str]]]


def _pairs(params: QueryParams) -> list[tuple[str, list[str]]]:
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, list[str]]] = []
    for key, value in items:
        values = [value] if isinstance(value, str) else list(value)
        out.append((key, values))
    return out


def _signed_query(params: QueryParams) -> dict[str, str | list[str]]:
    """The query as the library signs it: each key's last value (the one views read, so a
    repeated key cannot smuggle a value the signature did not cover), the whole list for a
    ``key[]`` (signed as ``key=["a", "b"]``), without the legacy ``signature``."""
    single: dict[str, str] = {}
    listed: dict[str, list[str]] = {}
    for key, values in _pairs(params):
        if key == _LEGACY_QUERY_SIGNATURE or not values:
            continue
        if key.endswith("[]"):
            listed.setdefault(key, []).extend(values)
        else:
            single[key] = values[-1]
    return {**single, **listed}


def query_hmac_compute(params: QueryParams, *, secret: str) -> str:
    """The lower-case hex HMAC the platform puts on an OAuth/app-URL query."""
    return app_session_class(secret=secret).calculate_hmac(_signed_query(params))


def query_hmac_valid(
    params: QueryParams,
    *,
    secret: str,
    max_age: int | None = None,
    now: float | None = None,
) -> bool:
    """True when the query's ``hmac`` matches and (with ``max_age``) its timestamp is fresh.

    The HMAC check is the library's (exact lower-case hex, constant time). Its own
    ``validate_params`` only refuses timestamps over a day old (and fails on a timestamp
    that is not a number), so the window here is ``timestamp_fresh``: ``max_age`` seconds,
    either way."""
    query = _signed_query(params)
    supplied = query.get("hmac")
    if not secret or not isinstance(supplied, str) or not supplied:
        return False
    timestamp = query.get("timestamp")
    if max_age is not None and not (
        isinstance(timestamp, str) and timestamp_fresh(timestamp, max_age, now=now)
    ):
        return False
    if app_session_class(secret=secret).validate_hmac(query):
        return True
    return hmac.compare_digest(_hex_hmac(secret, _percent_encoded_message(query)), supplied)


def _percent_encoded_message(query: Mapping[str, str | list[str]]) -> str:
    """The documented message: sorted ``key=value`` with percent-encoded values (space as
    ``%20``), joined by ``&``; a ``key[]`` list is signed as the library signs it."""
    parts = []
    for key, value in sorted(query.items()):
        if key == "hmac":
            continue
        text = value if isinstance(value, str) else "[" + ", ".join(f'"{v}"' for v in value) + "]"
        parts.append(f"{quote(key.removesuffix('[]'), safe='')}={quote(text, safe='')}")
    return "&".join(parts)


def timestamp_fresh(value: str | None, max_age: int, *, now: float | None = None) -> bool:
    """True when ``value`` (unix seconds) is within ``max_age`` seconds of now, either way."""
    try:
        ts = int(value or "")
    except ValueError:
        return False
    current = time.time() if now is None else now
    return abs(current - ts) <= max_age


# ShopifyAPI (12.7) has no webhook or app-proxy verification: both checks below are Beam's.
def webhook_hmac_compute(body: bytes, *, secret: str) -> str:
    """The base64 HMAC-SHA256 of a raw webhook body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_hmac_valid(body: bytes, header: str | None, *, secrets: Sequence[str]) -> bool:
    """True when ``header`` is the HMAC of ``body`` under any of ``secrets`` (rotation)."""
    if not header:
        return False
    return any(
        hmac.compare_digest(webhook_hmac_compute(body, secret=secret), header.strip())
        for secret in secrets
        if secret
    )


def app_proxy_message(params: Iterable[tuple[str, str]] | Mapping) -> str:
    """The app-proxy signed message: ``signature`` dropped, repeated keys' values joined
    with ``,``, ``key=value`` with decoded values, sorted, concatenated with no separator."""
    grouped: dict[str, list[str]] = {}
    for key, values in _pairs(params):
        if key == "signature":
            continue
        grouped.setdefault(key, []).extend(values)
    return "".join(sorted(f"{k}={','.join(v)}" for k, v in grouped.items()))


def app_proxy_signature_compute(params: Iterable[tuple[str, str]] | Mapping, *, secret: str) -> str:
    return _hex_hmac(secret, app_proxy_message(params))


def app_proxy_pairs_signed(pairs: Sequence[tuple[str, str]], *, secrets: Sequence[bytes]) -> bool:
    """True when the decoded query ``pairs`` carry a ``signature`` that matches under any of
    ``secrets`` (encoded, rotation). The storefront's hot path: the same message as
    ``app_proxy_message``, built without the generic conversions, and one-shot HMACs."""
    grouped: dict[str, list[str]] = {}
    supplied = ""
    for key, value in pairs:
        if key == "signature":
            supplied = value
        elif key in grouped:
            grouped[key].append(value)
        else:
            grouped[key] = [value]
    if len(supplied) != 64:  # hex of a SHA-256 HMAC
        return False
    try:
        wanted = bytes.fromhex(supplied)
    except ValueError:
        return False
    message = "".join(sorted([f"{k}={','.join(v)}" for k, v in grouped.items()])).encode()
    return any(
        hmac.compare_digest(hmac.digest(secret, message, "sha256"), wanted)
        for secret in secrets
        if secret
    )


def app_proxy_signature_valid(
    params: Iterable[tuple[str, str]] | Mapping,
    *,
    secret: str,
    max_age: int | None = None,
    now: float | None = None,
) -> bool:
    """True when the app-proxy ``signature`` matches (and the timestamp is fresh); the
    verification itself is the storefront's (``app_proxy_pairs_signed``)."""
    pairs = list(_pairs(params))
    supplied = next((v[-1] for k, v in pairs if k == "signature"), "")
    if not supplied or not secret:
        return False
    if max_age is not None:
        ts = next((v[-1] for k, v in pairs if k == "timestamp"), None)
        if not timestamp_fresh(ts, max_age, now=now):
            return False
    flat = [(key, value) for key, values in pairs for value in values]
    return app_proxy_pairs_signed(flat, secrets=[secret.encode()])
