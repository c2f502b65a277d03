from __future__ import annotations

from devstore.signing import app_proxy_signature, query_hmac, webhook_hmac

PROXY_BASE = [
    ("extra", "1"),
    ("extra", "2"),
    ("shop", "shop-name.myshopify.com"),
    ("path_prefix", "/apps/awesome_reviews"),
    ("timestamp", "1317327555"),
]


def test_app_proxy_signature_matches_published_vector_logged_in():
    params = [*PROXY_BASE, ("logged_in_customer_id", "1")]
    assert (
        app_proxy_signature(params, "hush")
        == "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"
    )


def test_app_proxy_signature_matches_published_vector_logged_out_and_ignores_signature():
    params = [*PROXY_BASE, ("logged_in_customer_id", ""), ("signature", "whatever")]
    assert (
        app_proxy_signature(params, "hush")
        == "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb"
    )


def test_query_hmac_matches_published_vectors():
    params = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "shop": "some-shop.myshopify.com",
        "state": "0.6784241404160823",
        "timestamp": "1337178173",
        "hmac": "ignored",
    }
    assert (
        query_hmac(params, "hush")
        == "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
    )
    del params["state"]
    assert (
        query_hmac(params, "hush")
        == "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
    )


def test_webhook_hmac_matches_published_vector():
    body = b'{"shop_id":954889,"shop_domain":"{shop}.myshopify.com"}'
    assert webhook_hmac(body, "hush") == "1ZkWm9gpyI+Zsjon2nUm8nnAH7b3L7SlOH1XnEEuq7o="
