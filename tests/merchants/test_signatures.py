"""The platform's published test vectors (SHOPIFY.md), secret ``hush``."""

import time
from urllib.parse import parse_qsl

import pytest

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
