from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from pathlib import Path

import pytest
import responses

from devstore import services
from devstore.models import DevShop, DevWebhookLog
from devstore.webhooks import webhooks_release_held, webhooks_retry_failed
from tests.devstore.factories import DevCustomerFactory, DevProductFactory, DevShopFactory

FIXTURES = Path(__file__).parent.parent / "fixtures" / "webhooks"


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _body(delivery) -> dict:
    return json.loads(delivery["body"])


@pytest.fixture
def order(dev_shop, access_token, sent_webhooks):
    shirt = DevProductFactory(shop=dev_shop, price=Decimal("40.00")).variants.get()
    customer = DevCustomerFactory(shop=dev_shop)
    services.discount_code_create(dev_shop, code="TEN", value=Decimal("10"))
    return services.order_place(
        dev_shop,
        customer=customer,
        lines=[(shirt, 2)],
        discount_code="TEN",
        shipping=Decimal("5"),
        tax_rate=Decimal("0.05"),
    )


def test_deliveries_are_signed_and_carry_the_platform_headers(order, sent_webhooks, dev_shop):
    topics = [d["headers"]["X-Shopify-Topic"] for d in sent_webhooks]
    assert topics == ["customers/create", "orders/create", "orders/paid"]
    for delivery in sent_webhooks:
        headers = delivery["headers"]
        expected = base64.b64encode(
            hmac.new(b"beam-test-api-secret", delivery["body"], hashlib.sha256).digest()
        ).decode()
        assert headers["X-Shopify-Hmac-Sha256"] == expected
        assert headers["X-Shopify-Shop-Domain"] == dev_shop.domain
        assert headers["X-Shopify-API-Version"] == "2026-10"
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Shopify-Webhook-Id"] and headers["X-Shopify-Event-Id"]
        assert headers["X-Shopify-Triggered-At"]
    assert sent_webhooks[2]["url"] == "http://beam.test/webhooks/orders/paid"
    assert DevWebhookLog.objects.filter(status="delivered", response_code=200).count() == 3


def test_order_payload_has_the_fixture_shape(order, sent_webhooks):
    paid = _body(sent_webhooks[2])
    sample = _fixture("orders_paid.json")
    assert list(paid) == list(sample)
    assert set(paid["line_items"][0]) == set(sample["line_items"][0])
    assert set(paid["shipping_lines"][0]) == set(sample["shipping_lines"][0])
    assert set(paid["customer"]) == set(sample["customer"])
    assert set(paid["total_price_set"]) == {"shop_money", "presentment_money"}
    assert paid["total_price_set"]["shop_money"] == {"amount": "78.50", "currency_code": "USD"}
    assert paid["discount_codes"] == [{"code": "TEN", "amount": "10.00", "type": "fixed_amount"}]
    assert paid["id"] == order.id and isinstance(paid["id"], int)


def test_refund_payload_has_the_fixture_shape(order, sent_webhooks):
    services.order_refund(order, [(order.payload["line_items"][0]["id"], 1)], shipping=Decimal("5"))
    refund = _body(sent_webhooks[-1])
    sample = _fixture("refunds_create.json")
    assert sent_webhooks[-1]["headers"]["X-Shopify-Topic"] == "refunds/create"
    assert set(refund) == set(sample)
    assert set(refund["refund_line_items"][0]) == set(sample["refund_line_items"][0])
    assert set(refund["refund_line_items"][0]["line_item"]) == set(
        sample["refund_line_items"][0]["line_item"]
    )
    assert set(refund["transactions"][0]) == set(sample["transactions"][0])
    assert refund["order_adjustments"][0]["kind"] == "shipping_refund"
    assert refund["refund_line_items"][0]["subtotal_set"]["shop_money"]["amount"] == "35.00"


def test_compliance_and_uninstall_payloads(dev_shop, access_token, sent_webhooks):
    customer = DevCustomerFactory(shop=dev_shop)
    services.compliance_customer_data_request(customer)
    services.compliance_customer_redact(customer)
    services.app_uninstall(dev_shop)
    services.compliance_shop_redact(dev_shop)
    by_topic = {d["headers"]["X-Shopify-Topic"]: d for d in sent_webhooks}
    assert by_topic["customers/data_request"]["url"] == "http://beam.test/webhooks/compliance"
    assert set(_body(by_topic["customers/data_request"])) == set(
        _fixture("customers_data_request.json")
    )
    assert set(_body(by_topic["customers/redact"])) == set(_fixture("customers_redact.json"))
    assert _body(by_topic["shop/redact"]) == {
        "shop_id": dev_shop.shop_id,
        "shop_domain": dev_shop.domain,
    }
    assert by_topic["app/uninstalled"]["url"] == "http://beam.test/webhooks/app/uninstalled"
    assert _body(by_topic["app/uninstalled"])["myshopify_domain"] == dev_shop.domain


def test_shops_without_the_app_get_no_order_webhooks(sent_webhooks, db):
    shop = DevShopFactory()
    DevCustomerFactory(shop=shop)
    assert sent_webhooks == []
    assert not DevWebhookLog.objects.exists()


def test_chaos_mode_sends_each_delivery_twice_with_the_same_id(
    dev_shop, access_token, sent_webhooks
):
    DevShop.objects.filter(pk=dev_shop.pk).update(webhook_chaos=True)
    dev_shop.refresh_from_db()
    DevCustomerFactory(shop=dev_shop)
    assert len(sent_webhooks) == 2
    first, second = (d["headers"] for d in sent_webhooks)
    assert first["X-Shopify-Webhook-Id"] == second["X-Shopify-Webhook-Id"]
    assert sent_webhooks[0]["body"] == sent_webhooks[1]["body"]


def test_held_deliveries_are_released_shuffled(dev_shop, access_token, sent_webhooks):
    DevShop.objects.filter(pk=dev_shop.pk).update(webhook_hold=True)
    dev_shop.refresh_from_db()
    customers = [DevCustomerFactory(shop=dev_shop) for _ in range(6)]
    assert sent_webhooks == []
    released = webhooks_release_held(dev_shop, shuffle=True, seed=3)
    sent_ids = [json.loads(d["body"])["id"] for d in sent_webhooks]
    assert sorted(sent_ids) == sorted(c.id for c in customers)
    assert sent_ids != [c.id for c in customers]
    assert [log.status for log in released] == ["delivered"] * 6


def test_failed_deliveries_are_kept_and_retried(dev_shop, access_token, settings, platform_http):
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    settings.DEVSTORE_WEBHOOK_SUBSCRIPTIONS = "all"
    platform_http.add(responses.POST, "http://beam.test/webhooks/customers/create", status=503)
    customer = DevCustomerFactory(shop=dev_shop)
    log = DevWebhookLog.objects.get()
    assert (log.status, log.response_code, log.attempts) == ("failed", 503, 1)
    platform_http.replace(responses.POST, "http://beam.test/webhooks/customers/create", status=200)
    retried = webhooks_retry_failed(dev_shop)
    assert [(r.status, r.response_code, r.attempts) for r in retried] == [("delivered", 200, 2)]
    assert json.loads(retried[0].body)["id"] == customer.id


def test_webhooks_wait_for_commit_by_default(
    dev_shop, access_token, settings, platform_http, django_capture_on_commit_callbacks
):
    settings.DEVSTORE_WEBHOOK_SUBSCRIPTIONS = "all"
    platform_http.add(responses.POST, "http://beam.test/webhooks/customers/create", status=200)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        DevCustomerFactory(shop=dev_shop)
    assert DevWebhookLog.objects.get().status == "pending"
    assert len(callbacks) == 1
    callbacks[0]()
    assert DevWebhookLog.objects.get().status == "delivered"


def test_subscriptions_follow_the_app_toml(
    dev_shop, access_token, settings, tmp_path, platform_http
):
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    settings.DEVSTORE_WEBHOOK_SUBSCRIPTIONS = None
    toml = tmp_path / "shopify.app.toml"
    toml.write_text('[[webhooks.subscriptions]]\ntopics = ["orders/paid"]\nuri = "/hooks/paid"\n')
    settings.DEVSTORE_APP_TOML = str(toml)
    platform_http.add(responses.POST, "http://beam.test/hooks/paid", status=200)
    shirt = DevProductFactory(shop=dev_shop).variants.get()
    services.order_place(dev_shop, email="g@example.com", lines=[(shirt, 1)])
    assert list(DevWebhookLog.objects.values_list("topic", "url")) == [
        ("orders/paid", "http://beam.test/hooks/paid")
    ]
