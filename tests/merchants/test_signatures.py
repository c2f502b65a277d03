"""The platform's published test vectors (SHOPIFY.md), secret ``hush``."""

import hashlib
import hmac
import time
from urllib.parse import parse_qsl

import pytest
import shopify

from merchants.shopify.library_session import app_session_class
from merchants.shopify.signatures import (
    app_proxy_signature_valid,
    query_hmac_compute,
    query_hmac_valid,
    webhook_hmac_compute,
    webhook_hmac_valid,
)

OAUTH_VECTORS = [
    (
        "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com"
        "&state=0.6784241404160823&timestamp=1337178173",
        "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf",
    ),
    (
        "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&timestamp=1337178173",
        "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20",
    ),
]


@pytest.mark.parametrize(("message", "expected"), OAUTH_VECTORS)
def test_query_hmac_matches_published_vectors(message: str, expected: str) -> None:
    params = dict(parse_qsl(message))
    assert query_hmac_compute(params, secret="hush") == expected
    assert query_hmac_valid({**params, "hmac": expected}, secret="hush")


@pytest.mark.parametrize(("message", "expected"), OAUTH_VECTORS)
def test_query_hmac_rejects_tampering_and_wrong_secret(message: str, expected: str) -> None:
    params = dict(parse_qsl(message))
    assert not query_hmac_valid({**params, "hmac": expected}, secret="other")
    assert not query_hmac_valid(
        {**params, "shop": "evil.myshopify.com", "hmac": expected}, secret="hush"
    )
    assert not query_hmac_valid(params, secret="hush")  # no hmac at all


def test_query_hmac_enforces_timestamp_window() -> None:
    params = {"shop": "a.myshopify.com", "timestamp": str(int(time.time()) - 3600)}
    params["hmac"] = query_hmac_compute(params, secret="hush")
    assert query_hmac_valid(params, secret="hush")
    assert not query_hmac_valid(params, secret="hush", max_age=90)
    fresh = {"shop": "a.myshopify.com", "timestamp": str(int(time.time()))}
    fresh["hmac"] = query_hmac_compute(fresh, secret="hush")
    assert query_hmac_valid(fresh, secret="hush", max_age=90)


def test_webhook_hmac_vector_and_rotation() -> None:
    body = b'{"shop_id":954889,"shop_domain":"{shop}.myshopify.com"}'
    expected = "1ZkWm9gpyI+Zsjon2nUm8nnAH7b3L7SlOH1XnEEuq7o="
    assert webhook_hmac_compute(body, secret="hush") == expected
    assert webhook_hmac_valid(body, expected, secrets=["hush"])
    assert webhook_hmac_valid(body, expected, secrets=["new-secret", "hush"])
    assert not webhook_hmac_valid(body + b" ", expected, secrets=["hush"])
    assert not webhook_hmac_valid(body, None, secrets=["hush"])
    assert not webhook_hmac_valid(body, expected, secrets=["", "other"])


PROXY_QUERY = (
    "extra=1&extra=2&shop=shop-name.myshopify.com"
    "&path_prefix=/apps/awesome_reviews&timestamp=1317327555"
)


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        ("1", "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"),
        ("", "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb"),
    ],
)
def test_app_proxy_signature_vectors(customer: str, expected: str) -> None:
    items = parse_qsl(f"{PROXY_QUERY}&logged_in_customer_id={customer}", keep_blank_values=True)
    assert app_proxy_signature_valid([*items, ("signature", expected)], secret="hush")
    tampered = [(k, "2" if k == "logged_in_customer_id" else v) for k, v in items]
    assert not app_proxy_signature_valid([*tampered, ("signature", expected)], secret="hush")
    assert not app_proxy_signature_valid(items, secret="hush")


# --- where the platform's library decides an edge --------------------------------------------

SIGNED_AT = "1337178173"


def _hex(message: str, secret: str = "hush") -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_query_hmac_signs_the_decoded_values() -> None:
    """The platform signs the values as sent, escaping only ``%`` and ``&`` (and ``=`` in
    keys); a percent-encoded message (``/`` as %2F, space as %20) is not what it signs."""
    params = {
        "host": "YWRtaW4/c2hvcA+==",
        "shop": "a.myshopify.com",
        "state": "a b:c",
        "timestamp": SIGNED_AT,
    }
    decoded = "host=YWRtaW4/c2hvcA+==&shop=a.myshopify.com&state=a b:c&timestamp=1337178173"
    encoded = (
        "host=YWRtaW4%2Fc2hvcA%2B%3D%3D&shop=a.myshopify.com&state=a%20b%3Ac&timestamp=1337178173"
    )

    assert query_hmac_compute(params, secret="hush") == _hex(decoded)
    assert query_hmac_valid({**params, "hmac": _hex(decoded)}, secret="hush")
    assert not query_hmac_valid({**params, "hmac": _hex(encoded)}, secret="hush")


def test_query_hmac_escapes_delimiters_so_values_cannot_forge_pairs() -> None:
    params = {"shop": "a.myshopify.com", "state": "x&timestamp=1", "timestamp": SIGNED_AT}
    message = "shop=a.myshopify.com&state=x%26timestamp=1&timestamp=1337178173"

    assert query_hmac_compute(params, secret="hush") == _hex(message)


def test_query_hmac_must_be_lower_case_hex() -> None:
    params = {"shop": "a.myshopify.com", "timestamp": SIGNED_AT}
    expected = query_hmac_compute(params, secret="hush")

    assert query_hmac_valid({**params, "hmac": expected}, secret="hush")
    assert not query_hmac_valid({**params, "hmac": expected.upper()}, secret="hush")


def test_query_hmac_leaves_the_legacy_signature_out() -> None:
    vector_message, vector_hmac = OAUTH_VECTORS[1]
    params = {**dict(parse_qsl(vector_message)), "signature": "legacy-md5"}

    assert query_hmac_compute(params, secret="hush") == vector_hmac
    assert query_hmac_valid({**params, "hmac": vector_hmac}, secret="hush")


def test_query_hmac_signs_array_parameters_as_a_list() -> None:
    pairs = [("ids[]", "1"), ("ids[]", "2"), ("shop", "a.myshopify.com"), ("timestamp", SIGNED_AT)]
    message = 'ids=["1", "2"]&shop=a.myshopify.com&timestamp=1337178173'

    assert query_hmac_compute(pairs, secret="hush") == _hex(message)
    assert query_hmac_valid([*pairs, ("hmac", _hex(message))], secret="hush")
    assert not query_hmac_valid([*pairs[1:], ("hmac", _hex(message))], secret="hush")


def test_a_repeated_key_cannot_smuggle_an_unsigned_value() -> None:
    params = {"shop": "a.myshopify.com", "timestamp": SIGNED_AT}
    signed = [*params.items(), ("hmac", query_hmac_compute(params, secret="hush"))]

    assert query_hmac_valid(signed, secret="hush")
    assert not query_hmac_valid([*signed, ("shop", "evil.myshopify.com")], secret="hush")


@pytest.mark.parametrize("timestamp", ["", "soon", "1.5", None])
def test_query_hmac_with_an_unreadable_timestamp_is_refused_not_an_error(timestamp) -> None:
    params = {"shop": "a.myshopify.com"} | ({"timestamp": timestamp} if timestamp else {})
    params["hmac"] = query_hmac_compute(params, secret="hush")

    assert query_hmac_valid(params, secret="hush")
    assert not query_hmac_valid(params, secret="hush", max_age=90)


def test_the_librarys_process_global_session_is_neither_read_nor_written(monkeypatch) -> None:
    monkeypatch.setattr(shopify.Session, "secret", "process-global-secret")
    monkeypatch.setattr(shopify.Session, "api_key", "process-global-key")
    message, expected = OAUTH_VECTORS[0]
    params = dict(parse_qsl(message))

    assert query_hmac_compute(params, secret="hush") == expected
    assert query_hmac_valid({**params, "hmac": expected}, secret="hush")
    assert query_hmac_valid(
        {**params, "hmac": query_hmac_compute(params, secret="new")}, secret="new"
    )
    assert shopify.Session.secret == "process-global-secret"
    assert shopify.Session.api_key == "process-global-key"


def test_one_library_session_class_per_credentials() -> None:
    current = app_session_class(secret="current")

    assert app_session_class(secret="current") is current
    assert app_session_class(secret="previous") is not current
    assert (current.secret, app_session_class(secret="previous").secret) == ("current", "previous")
    assert shopify.Session.secret is None
