"""The operations against the devstore (the local store simulator), in-process: the real
client, the real documents, executed by the devstore's GraphQL endpoint."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from devstore import services as store
from devstore.models import DevAppToken, DevMetafield, DevOrder
from merchants.errors import ShopifyUserError
from merchants.models import Shop
from merchants.shopify import operations as ops
from merchants.shopify.client import AdminClient

pytestmark = pytest.mark.django_db

DOMAIN = "ops-devstore.myshopify.com"


@pytest.fixture
def dev_shop():
    return store.shop_create(DOMAIN, name="Ops Devstore", currency="CAD")


@pytest.fixture
def shop(dev_shop) -> Shop:
    token = DevAppToken.objects.create(
        shop=dev_shop,
        access_token="shpat_devstore_ops",
        expires_at=timezone.now() + timedelta(hours=1),
        scopes=settings.SHOPIFY_SCOPES,
    )
    shop = Shop(domain=DOMAIN, installed_at=timezone.now(), scopes=settings.SHOPIFY_SCOPES)
    shop.access_token = token.access_token
    shop.access_token_expires_at = token.expires_at
    shop.save()
    return shop


@pytest.fixture
def customer(dev_shop):
    return store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")


@pytest.mark.parametrize(
    "name",
    [
        "ORDER_DOCUMENT",
        "ORDER_LINE_ITEMS_DOCUMENT",
        "ORDER_REFUNDS_DOCUMENT",
        "REFUND_LINE_ITEMS_DOCUMENT",
        "ORDERS_UPDATED_SINCE_DOCUMENT",
        "DISCOUNT_CODE_LOOKUP_DOCUMENT",
        "SHOP_DETAILS_DOCUMENT",
    ],
)
def test_devstore_prices_each_query_under_the_cap(name: str) -> None:
    from graphql import OperationDefinitionNode, parse

    from devstore.graphql import query_cost

    document = parse(getattr(ops, name))
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    cost = query_cost(document, operation, {"first": 50})
    assert 0 < cost < 1000, cost


def _gid(kind: str, pk: int) -> str:
    return f"gid://shopify/{kind}/{pk}"


def test_shop_details_fetch(shop: Shop) -> None:
    details = ops.shop_details_fetch(shop)

    assert details.name == "Ops Devstore"
    assert details.currency == "CAD"
    assert details.email == f"owner@{DOMAIN}"


def test_reward_code_lifecycle(shop: Shop, customer) -> None:
    customer_gid = _gid("Customer", customer.id)
    client = AdminClient(shop)

    created = ops.discount_code_basic_create(
        shop,
        code="BEAM-DEV-5",
        title="$5 off",
        customer_gid=customer_gid,
        starts_at=timezone.now() - timedelta(minutes=1),
        ends_at=timezone.now() + timedelta(days=30),
        amount=Decimal("5.00"),
        client=client,
    )
    assert created.code == "BEAM-DEV-5"
    assert created.id.startswith("gid://shopify/DiscountCodeNode/")
    assert client.last_cost is not None and client.last_cost.requested is not None

    status = ops.discount_code_lookup(shop, code="BEAM-DEV-5")
    assert status == ops.DiscountCodeStatus(
        id=created.id, code="BEAM-DEV-5", status="ACTIVE", usage_count=0, title="$5 off"
    )

    with pytest.raises(ShopifyUserError) as caught:
        ops.discount_code_basic_create(
            shop,
            code="BEAM-DEV-5",
            title="dup",
            customer_gid=customer_gid,
            starts_at=timezone.now(),
            ends_at=None,
            amount=Decimal("5.00"),
        )
    assert caught.value.user_errors

    ops.discount_code_deactivate(shop, discount_id=created.id)
    deactivated = ops.discount_code_lookup(shop, code="BEAM-DEV-5")
    assert deactivated is not None and deactivated.status == "EXPIRED"

    ops.discount_code_delete(shop, discount_id=created.id)
    assert ops.discount_code_lookup(shop, code="BEAM-DEV-5") is None


def test_free_shipping_and_free_product_codes(shop: Shop, dev_shop, customer) -> None:
    customer_gid = _gid("Customer", customer.id)
    product = store.product_create(dev_shop, "Mug", Decimal("12.00"))
    variant = product.variants.get()

    shipping = ops.discount_code_free_shipping_create(
        shop,
        code="BEAM-SHIP",
        title="Free shipping",
        customer_gid=customer_gid,
        starts_at=timezone.now(),
        ends_at=None,
    )
    free_mug = ops.discount_code_basic_create(
        shop,
        code="BEAM-MUG",
        title="Free mug",
        customer_gid=customer_gid,
        starts_at=timezone.now(),
        ends_at=None,
        variant_gids=[_gid("ProductVariant", variant.id)],
    )

    assert shipping.code == "BEAM-SHIP"
    assert free_mug.code == "BEAM-MUG"
    assert shipping.id != free_mug.id


def test_store_credit_metafields_and_tags(shop: Shop, customer) -> None:
    customer_gid = _gid("Customer", customer.id)

    transaction_id = ops.store_credit_account_credit(
        shop, customer_gid=customer_gid, amount=Decimal("7.50"), currency="CAD"
    )
    assert transaction_id.startswith("gid://shopify/")

    ops.customer_loyalty_metafields_set(shop, customer_gid=customer_gid, balance=420, tier="Gold")
    values = dict(DevMetafield.objects.values_list("key", "value"))
    assert values["points_balance"] == "420"
    assert values["tier"] == "Gold"

    ops.customer_tags_add(shop, gid=customer_gid, tags=["beam-gold", "vip"])
    ops.customer_tags_remove(shop, gid=customer_gid, tags=["vip"])
    customer.refresh_from_db()
    assert customer.tags == ["beam-gold"]


def test_orders_updated_since_matches_the_webhook_payload(shop: Shop, dev_shop, customer) -> None:
    product = store.product_create(dev_shop, "Tent", Decimal("100.00"))
    before = timezone.now() - timedelta(seconds=5)
    order = store.order_place(
        dev_shop,
        customer=customer,
        lines=[(product.variants.get(), 2)],
        shipping=Decimal("10.00"),
    )
    order.refresh_from_db()
    webhook = order.payload
    client = AdminClient(shop)

    (pulled,) = ops.orders_updated_since(shop, since=before, client=client)

    assert client.last_cost is not None
    assert pulled["admin_graphql_api_id"] == _gid("Order", order.id)
    assert pulled["id"] == order.id
    assert pulled["financial_status"] == "paid"
    assert pulled["customer"]["admin_graphql_api_id"] == _gid("Customer", customer.id)
    assert pulled["customer"]["id"] == customer.id
    assert Decimal(pulled["subtotal_price"]) == Decimal("200.00")
    assert Decimal(pulled["total_price"]) == Decimal("210.00")
    assert pulled["discount_codes"] == []
    assert [(item["quantity"], Decimal(item["price"])) for item in pulled["line_items"]] == [
        (2, Decimal("100.00"))
    ]
    for key in ("id", "email", "currency", "financial_status", "discount_codes"):
        assert pulled[key] == webhook[key], key
    for key in ("total_price", "subtotal_price", "total_tax", "total_discounts"):
        assert Decimal(pulled[key]) == Decimal(webhook[key]), key

    assert list(ops.orders_updated_since(shop, since=timezone.now() + timedelta(hours=1))) == []


@pytest.mark.parametrize(
    ("kind", "value_type", "value", "expected_codes", "subtotal"),
    [
        (
            "basic",
            "fixed_amount",
            Decimal("15.00"),
            [{"code": "SAVE15", "amount": "15.00", "type": "fixed_amount"}],
            Decimal("185.00"),
        ),
        (
            "basic",
            "percentage",
            Decimal("0.1"),
            [{"code": "SAVE15", "amount": "20.00", "type": "percentage"}],
            Decimal("180.00"),
        ),
        (
            "free_shipping",
            "free_shipping",
            Decimal("0"),
            [{"code": "SAVE15", "amount": "10.00", "type": "shipping"}],
            Decimal("200.00"),
        ),
    ],
)
def test_pulled_order_with_a_code_has_the_webhooks_discount_codes(
    shop: Shop,
    dev_shop,
    customer,
    kind: str,
    value_type: str,
    value: Decimal,
    expected_codes: list[dict],
    subtotal: Decimal,
) -> None:
    """The reconciliation path rebuilds ``discount_codes`` from discountApplications and the
    allocations on line items and shipping lines: it must equal what the webhook carried."""
    product = store.product_create(dev_shop, "Tent", Decimal("100.00"))
    store.discount_code_create(
        dev_shop, code="SAVE15", kind=kind, value_type=value_type, value=value
    )
    before = timezone.now() - timedelta(seconds=5)
    order = store.order_place(
        dev_shop,
        customer=customer,
        lines=[(product.variants.get(), 2)],
        shipping=Decimal("10.00"),
        discount_code="save15",
    )

    (pulled,) = ops.orders_updated_since(shop, since=before)

    assert pulled["discount_codes"] == expected_codes
    assert order.payload["discount_codes"] == expected_codes
    assert Decimal(pulled["subtotal_price"]) == subtotal
    assert Decimal(pulled["total_price"]) == Decimal(order.payload["total_price"])
    (item,) = pulled["line_items"]
    line_discount = sum((Decimal(a["amount"]) for a in item["discount_allocations"]), Decimal(0))
    assert line_discount == Decimal("200.00") - subtotal
    assert {a["discount_code"] for a in item["discount_allocations"]} == (
        {"SAVE15"} if line_discount else set()
    )


def test_tier_none_deletes_the_tier_metafield_in_the_devstore(shop: Shop, customer) -> None:
    customer_gid = _gid("Customer", customer.id)
    ops.customer_loyalty_metafields_set(shop, customer_gid=customer_gid, balance=10, tier="Gold")

    ops.customer_loyalty_metafields_set(shop, customer_gid=customer_gid, balance=25, tier=None)

    assert dict(DevMetafield.objects.values_list("key", "value")) == {"points_balance": "25"}
    # deleting a tier that is already gone is no error (the platform answers null for it)
    ops.customer_loyalty_metafields_set(shop, customer_gid=customer_gid, balance=30, tier=None)
    assert dict(DevMetafield.objects.values_list("key", "value")) == {"points_balance": "30"}


def test_every_query_document_runs_on_the_devstore_without_errors(
    shop: Shop, dev_shop, customer
) -> None:
    """Each read document Beam sends, executed by the devstore on an order with a code,
    shipping, tax and two refunds: data for every field, no GraphQL error (the client raises
    on any)."""
    tent = store.product_create(dev_shop, "Tent", Decimal("100.00")).variants.get()
    mug = store.product_create(dev_shop, "Mug", Decimal("12.00")).variants.get()
    store.discount_code_create(dev_shop, code="TENOFF", value=Decimal("10.00"))
    order = store.order_place(
        dev_shop,
        customer=customer,
        lines=[(tent, 2), (mug, 1)],
        discount_code="TENOFF",
        shipping=Decimal("8.00"),
        tax_rate=Decimal("0.05"),
    )
    tent_line, mug_line = order.payload["line_items"]
    first = store.order_refund(order, [(mug_line["id"], 1)])
    store.order_refund(DevOrder.objects.get(pk=order.id), [(tent_line["id"], 1)], Decimal("8.00"))
    client = AdminClient(shop)
    order_gid = _gid("Order", order.id)

    data = client.execute(ops.ORDER_DOCUMENT, {"id": order_gid}).data["order"]
    assert data["legacyResourceId"] == str(order.id)
    assert [n["code"] for n in data["discountApplications"]["nodes"]] == ["TENOFF"]
    assert len(data["shippingLines"]["nodes"]) == 1
    assert len(data["refunds"]) == 2
    assert {
        a["discountApplication"]["code"]
        for n in data["lineItems"]["nodes"]
        for a in n["discountAllocations"]
    } == {"TENOFF"}
    assert client.execute(ops.ORDER_LINE_ITEMS_DOCUMENT, {"id": order_gid}).data["order"][
        "lineItems"
    ]["pageInfo"] == {"hasNextPage": False, "endCursor": data["lineItems"]["pageInfo"]["endCursor"]}
    refunds = client.execute(ops.ORDER_REFUNDS_DOCUMENT, {"id": order_gid}).data["order"]["refunds"]
    assert len(refunds) == 2 and refunds[0]["legacyResourceId"] == str(first.id)
    node = client.execute(ops.REFUND_LINE_ITEMS_DOCUMENT, {"id": refunds[0]["id"]}).data["node"]
    assert [item["quantity"] for item in node["refundLineItems"]["nodes"]] == [1]
    page = client.execute(ops.ORDERS_UPDATED_SINCE_DOCUMENT, {"first": 50}).data["orders"]
    assert [n["id"] for n in page["nodes"]] == [order_gid]
    lookup = client.execute(ops.DISCOUNT_CODE_LOOKUP_DOCUMENT, {"code": "tenoff"}).data
    assert lookup["codeDiscountNodeByCode"]["codeDiscount"]["asyncUsageCount"] == 1
    assert client.execute(ops.SHOP_DETAILS_DOCUMENT).data["shop"]["currencyCode"] == "CAD"

    (pulled,) = ops.orders_updated_since(shop, since=timezone.now() - timedelta(hours=1))
    assert pulled["discount_codes"] == order.payload["discount_codes"]
    assert [len(r["refund_line_items"]) for r in pulled["refunds"]] == [1, 1]
