"""Typed Admin API operations: the exact variables sent and the parsing of the answers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from django.utils import timezone

from merchants.errors import ShopifyUserError
from merchants.models import Shop
from merchants.shopify import operations as ops

pytestmark = pytest.mark.django_db

DOMAIN = "ops-test.myshopify.com"
URL = f"http://beam.test/devstore/{DOMAIN}/admin/api/2026-10/graphql.json"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
CUSTOMER = "gid://shopify/Customer/115310627314723954"
STARTS = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ENDS = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
COST = {
    "cost": {
        "requestedQueryCost": 10,
        "actualQueryCost": 10,
        "throttleStatus": {
            "maximumAvailable": 1000.0,
            "currentlyAvailable": 990.0,
            "restoreRate": 100.0,
        },
    }
}


@pytest.fixture
def shop() -> Shop:
    shop = Shop(domain=DOMAIN, installed_at=timezone.now())
    shop.access_token = "shpat_ops"
    shop.save()
    return shop


class FakeAdmin:
    """Answers GraphQL calls by operation name and records what was sent."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, list[Any]] = {}
        mock.add_callback(responses.POST, URL, callback=self._answer)

    def on(self, operation: str, *answers: dict[str, Any] | Callable[[dict], dict]) -> None:
        self.answers.setdefault(operation, []).extend(answers)

    def variables(self, operation: str) -> list[dict[str, Any]]:
        return [v for op, v in self.sent if op == operation]

    def _answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        match = re.search(r"(?:query|mutation)\s+(\w+)", body["query"])
        assert match, body["query"]
        operation = match.group(1)
        self.sent.append((operation, body["variables"]))
        queue = self.answers[operation]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        data = answer(body["variables"]) if callable(answer) else answer
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"data": data, "extensions": COST}),
        )


@pytest.fixture
def admin(platform_http: responses.RequestsMock) -> FakeAdmin:
    return FakeAdmin(platform_http)


def _created(root: str, gid: str, code: str) -> dict[str, Any]:
    return {
        root: {
            "codeDiscountNode": {"id": gid, "codeDiscount": {"codes": {"nodes": [{"code": code}]}}},
            "userErrors": [],
        }
    }


# -- discounts ---------------------------------------------------------------------------


def test_basic_create_fixed_amount_sends_customer_context_and_single_use(
    shop: Shop, admin: FakeAdmin
) -> None:
    admin.on(
        "BeamDiscountCodeBasicCreate",
        _created("discountCodeBasicCreate", "gid://shopify/DiscountCodeNode/1", "BEAM-5OFF"),
    )

    created = ops.discount_code_basic_create(
        shop,
        code="BEAM-5OFF",
        title="$5 off (Beam reward)",
        customer_gid=CUSTOMER,
        starts_at=STARTS,
        ends_at=ENDS,
        amount=Decimal("5.00"),
        minimum_subtotal=Decimal("20"),
    )

    assert created == ops.CreatedDiscount(id="gid://shopify/DiscountCodeNode/1", code="BEAM-5OFF")
    assert admin.variables("BeamDiscountCodeBasicCreate") == [
        {
            "discount": {
                "code": "BEAM-5OFF",
                "title": "$5 off (Beam reward)",
                "startsAt": "2026-11-01T12:00:00+00:00",
                "endsAt": "2026-12-01T12:00:00+00:00",
                "context": {"customers": {"add": [CUSTOMER]}},
                "usageLimit": 1,
                "appliesOncePerCustomer": True,
                "customerGets": {
                    "value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
                    "items": {"all": True},
                },
                "combinesWith": {
                    "orderDiscounts": False,
                    "productDiscounts": False,
                    "shippingDiscounts": True,
                },
                "minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "20"}},
            }
        }
    ]


def test_basic_create_percentage_without_end_or_minimum(shop: Shop, admin: FakeAdmin) -> None:
    admin.on(
        "BeamDiscountCodeBasicCreate",
        _created("discountCodeBasicCreate", "gid://shopify/DiscountCodeNode/2", "BEAM-10PC"),
    )

    ops.discount_code_basic_create(
        shop,
        code="BEAM-10PC",
        title="10% off",
        customer_gid=CUSTOMER,
        starts_at=STARTS,
        ends_at=None,
        percentage=Decimal("0.1"),
        combines_with_order=True,
    )

    (sent,) = admin.variables("BeamDiscountCodeBasicCreate")
    discount = sent["discount"]
    assert discount["endsAt"] is None
    assert discount["customerGets"] == {"value": {"percentage": 0.1}, "items": {"all": True}}
    assert "minimumRequirement" not in discount
    assert "customerSelection" not in discount
    assert discount["combinesWith"]["orderDiscounts"] is True


def test_basic_create_free_product_targets_variants_at_100_percent(
    shop: Shop, admin: FakeAdmin
) -> None:
    admin.on(
        "BeamDiscountCodeBasicCreate",
        _created("discountCodeBasicCreate", "gid://shopify/DiscountCodeNode/3", "BEAM-FREE"),
    )
    variants = ["gid://shopify/ProductVariant/11", "gid://shopify/ProductVariant/12"]

    ops.discount_code_basic_create(
        shop,
        code="BEAM-FREE",
        title="Free mug",
        customer_gid=CUSTOMER,
        starts_at=STARTS,
        ends_at=ENDS,
        variant_gids=variants,
    )

    (sent,) = admin.variables("BeamDiscountCodeBasicCreate")
    assert sent["discount"]["customerGets"] == {
        "value": {"percentage": 1.0},
        "items": {"products": {"productVariantsToAdd": variants}},
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # neither amount nor percentage
        {"amount": Decimal("5"), "percentage": Decimal("0.1")},
        {"percentage": Decimal("1.5")},
        {"percentage": Decimal("0")},
        {"amount": Decimal("-1")},
        {"amount": Decimal("5"), "variant_gids": ["gid://shopify/ProductVariant/1"]},
        {"amount": Decimal("5"), "starts_at": datetime(2026, 1, 1)},  # naive
    ],
)
def test_basic_create_rejects_bad_input_before_any_http(
    shop: Shop, platform_http: responses.RequestsMock, kwargs: dict[str, Any]
) -> None:
    arguments: dict[str, Any] = {
        "code": "X",
        "title": "X",
        "customer_gid": CUSTOMER,
        "starts_at": STARTS,
        "ends_at": None,
    }
    arguments.update(kwargs)

    with pytest.raises(ValueError):
        ops.discount_code_basic_create(shop, **arguments)

    assert len(platform_http.calls) == 0


def test_basic_create_user_errors_raise(shop: Shop, admin: FakeAdmin) -> None:
    errors = [
        {
            "field": ["basicCodeDiscount", "code"],
            "message": "Code must be unique",
            "code": "TAKEN",
            "extraInfo": None,
        }
    ]
    admin.on(
        "BeamDiscountCodeBasicCreate",
        {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": errors}},
    )

    with pytest.raises(ShopifyUserError) as caught:
        ops.discount_code_basic_create(
            shop,
            code="DUP",
            title="t",
            customer_gid=CUSTOMER,
            starts_at=STARTS,
            ends_at=None,
            amount=Decimal("5"),
        )

    assert caught.value.user_errors == errors


def test_free_shipping_create_sends_exact_input(shop: Shop, admin: FakeAdmin) -> None:
    admin.on(
        "BeamDiscountCodeFreeShippingCreate",
        _created("discountCodeFreeShippingCreate", "gid://shopify/DiscountCodeNode/4", "SHIP"),
    )

    created = ops.discount_code_free_shipping_create(
        shop,
        code="SHIP",
        title="Free shipping",
        customer_gid=CUSTOMER,
        starts_at=STARTS,
        ends_at=ENDS,
    )

    assert created == ops.CreatedDiscount(id="gid://shopify/DiscountCodeNode/4", code="SHIP")
    assert admin.variables("BeamDiscountCodeFreeShippingCreate") == [
        {
            "discount": {
                "code": "SHIP",
                "title": "Free shipping",
                "startsAt": "2026-11-01T12:00:00+00:00",
                "endsAt": "2026-12-01T12:00:00+00:00",
                "context": {"customers": {"add": [CUSTOMER]}},
                "usageLimit": 1,
                "appliesOncePerCustomer": True,
                "destination": {"all": True},
                "combinesWith": {
                    "orderDiscounts": True,
                    "productDiscounts": True,
                    "shippingDiscounts": False,
                },
            }
        }
    ]


def test_deactivate_and_delete_send_the_id(shop: Shop, admin: FakeAdmin) -> None:
    gid = "gid://shopify/DiscountCodeNode/5"
    admin.on(
        "BeamDiscountCodeDeactivate",
        {"discountCodeDeactivate": {"codeDiscountNode": {"id": gid}, "userErrors": []}},
    )
    admin.on(
        "BeamDiscountCodeDelete",
        {"discountCodeDelete": {"deletedCodeDiscountId": gid, "userErrors": []}},
    )

    assert ops.discount_code_deactivate(shop, discount_id=gid) is None
    assert ops.discount_code_delete(shop, discount_id=gid) is None

    assert admin.variables("BeamDiscountCodeDeactivate") == [{"id": gid}]
    assert admin.variables("BeamDiscountCodeDelete") == [{"id": gid}]


def test_delete_of_unknown_discount_raises_user_error(shop: Shop, admin: FakeAdmin) -> None:
    errors = [
        {"field": ["id"], "message": "Discount does not exist", "code": None, "extraInfo": None}
    ]
    admin.on(
        "BeamDiscountCodeDelete",
        {"discountCodeDelete": {"deletedCodeDiscountId": None, "userErrors": errors}},
    )

    with pytest.raises(ShopifyUserError) as caught:
        ops.discount_code_delete(shop, discount_id="gid://shopify/DiscountCodeNode/404")

    assert caught.value.user_errors == errors


def test_lookup_parses_status_and_usage(shop: Shop, admin: FakeAdmin) -> None:
    admin.on(
        "BeamDiscountCodeLookup",
        {
            "codeDiscountNodeByCode": {
                "id": "gid://shopify/DiscountCodeNode/6",
                "codeDiscount": {
                    "__typename": "DiscountCodeBasic",
                    "status": "ACTIVE",
                    "asyncUsageCount": 1,
                    "codes": {"nodes": [{"code": "BEAM-5OFF"}]},
                },
            }
        },
    )

    status = ops.discount_code_lookup(shop, code="beam-5off")

    assert status == ops.DiscountCodeStatus(
        id="gid://shopify/DiscountCodeNode/6", code="BEAM-5OFF", status="ACTIVE", usage_count=1
    )
    assert admin.variables("BeamDiscountCodeLookup") == [{"code": "beam-5off"}]


def test_lookup_of_unknown_code_is_none(shop: Shop, admin: FakeAdmin) -> None:
    admin.on("BeamDiscountCodeLookup", {"codeDiscountNodeByCode": None})

    assert ops.discount_code_lookup(shop, code="NOPE") is None


# -- store credit, metafields, tags --------------------------------------------------------


def test_store_credit_sends_money_and_returns_transaction_id(shop: Shop, admin: FakeAdmin) -> None:
    admin.on(
        "BeamStoreCreditAccountCredit",
        {
            "storeCreditAccountCredit": {
                "storeCreditAccountTransaction": {
                    "id": "gid://shopify/StoreCreditAccountCreditTransaction/77",
                    "amount": {"amount": "12.5", "currencyCode": "CAD"},
                },
                "userErrors": [],
            }
        },
    )

    transaction_id = ops.store_credit_account_credit(
        shop, customer_gid=CUSTOMER, amount=Decimal("12.50"), currency="cad"
    )

    assert transaction_id == "gid://shopify/StoreCreditAccountCreditTransaction/77"
    assert admin.variables("BeamStoreCreditAccountCredit") == [
        {
            "id": CUSTOMER,
            "creditInput": {"creditAmount": {"amount": "12.50", "currencyCode": "CAD"}},
        }
    ]


def test_store_credit_rejects_non_positive_amount(
    shop: Shop, platform_http: responses.RequestsMock
) -> None:
    with pytest.raises(ValueError):
        ops.store_credit_account_credit(
            shop, customer_gid=CUSTOMER, amount=Decimal(0), currency="USD"
        )
    assert len(platform_http.calls) == 0


def _metafields_set_ok(variables: dict) -> dict:
    return {"metafieldsSet": {"metafields": variables["metafields"], "userErrors": []}}


def test_loyalty_metafields_set_balance_and_tier(shop: Shop, admin: FakeAdmin) -> None:
    admin.on("BeamCustomerLoyaltyMetafieldsSet", _metafields_set_ok)

    ops.customer_loyalty_metafields_set(shop, customer_gid=CUSTOMER, balance=1250, tier="Gold")

    assert admin.variables("BeamCustomerLoyaltyMetafieldsSet") == [
        {
            "metafields": [
                {
                    "ownerId": CUSTOMER,
                    "namespace": "$app:loyalty",
                    "key": "points_balance",
                    "type": "number_integer",
                    "value": "1250",
                },
                {
                    "ownerId": CUSTOMER,
                    "namespace": "$app:loyalty",
                    "key": "tier",
                    "type": "single_line_text_field",
                    "value": "Gold",
                },
            ]
        }
    ]
    assert admin.variables("BeamCustomerLoyaltyMetafieldsDelete") == []


def test_loyalty_metafields_without_tier_deletes_the_tier(shop: Shop, admin: FakeAdmin) -> None:
    admin.on("BeamCustomerLoyaltyMetafieldsSet", _metafields_set_ok)
    admin.on(
        "BeamCustomerLoyaltyMetafieldsDelete",
        {"metafieldsDelete": {"deletedMetafields": [None], "userErrors": []}},
    )

    ops.customer_loyalty_metafields_set(shop, customer_gid=CUSTOMER, balance=0, tier=None)

    (set_vars,) = admin.variables("BeamCustomerLoyaltyMetafieldsSet")
    assert [m["key"] for m in set_vars["metafields"]] == ["points_balance"]
    assert set_vars["metafields"][0]["value"] == "0"
    assert admin.variables("BeamCustomerLoyaltyMetafieldsDelete") == [
        {"metafields": [{"ownerId": CUSTOMER, "namespace": "$app:loyalty", "key": "tier"}]}
    ]


def test_tags_add_and_remove(shop: Shop, admin: FakeAdmin) -> None:
    admin.on("BeamTagsAdd", {"tagsAdd": {"node": {"id": CUSTOMER}, "userErrors": []}})
    admin.on("BeamTagsRemove", {"tagsRemove": {"node": {"id": CUSTOMER}, "userErrors": []}})

    ops.customer_tags_add(shop, gid=CUSTOMER, tags=["beam-gold"])
    ops.customer_tags_remove(shop, gid=CUSTOMER, tags=["beam-silver", "beam-bronze"])
    ops.customer_tags_add(shop, gid=CUSTOMER, tags=[])  # nothing to do: no call

    assert admin.sent == [
        ("BeamTagsAdd", {"id": CUSTOMER, "tags": ["beam-gold"]}),
        ("BeamTagsRemove", {"id": CUSTOMER, "tags": ["beam-silver", "beam-bronze"]}),
    ]


def test_tags_user_errors_raise(shop: Shop, admin: FakeAdmin) -> None:
    errors = [{"field": ["id"], "message": "Customer does not exist"}]
    admin.on("BeamTagsAdd", {"tagsAdd": {"node": None, "userErrors": errors}})

    with pytest.raises(ShopifyUserError) as caught:
        ops.customer_tags_add(shop, gid=CUSTOMER, tags=["x"])

    assert caught.value.user_errors == errors


def test_shop_details_fetch(shop: Shop, admin: FakeAdmin) -> None:
    admin.on(
        "BeamShopDetails",
        {
            "shop": {
                "name": "Acme Outdoors",
                "email": "owner@acme.example",
                "currencyCode": "CAD",
                "ianaTimezone": "America/Toronto",
                "plan": {"publicDisplayName": "Basic"},
            }
        },
    )

    assert ops.shop_details_fetch(shop) == ops.ShopDetails(
        name="Acme Outdoors",
        email="owner@acme.example",
        currency="CAD",
        iana_timezone="America/Toronto",
        plan_name="Basic",
    )


# -- orders --------------------------------------------------------------------------------

ORDER_GID = "gid://shopify/Order/820982911946154508"
LINE_1 = "gid://shopify/LineItem/487817672276298554"
LINE_2 = "gid://shopify/LineItem/789012345678901234"
REFUND_GID = "gid://shopify/Refund/890088186047892319"


def _bag(amount: str, currency: str = "USD", presentment: str | None = None) -> dict:
    return {
        "shopMoney": {"amount": amount, "currencyCode": currency},
        "presentmentMoney": {
            "amount": presentment or amount,
            "currencyCode": "EUR" if presentment else currency,
        },
    }


def _line(gid: str, price: str, discount: str, code: str | None = None) -> dict:
    return {
        "id": gid,
        "quantity": 1,
        "isGiftCard": False,
        "product": {"id": "gid://shopify/Product/788032119674292922"},
        "variant": {"id": "gid://shopify/ProductVariant/49148385"},
        "originalUnitPriceSet": {"shopMoney": {"amount": price, "currencyCode": "USD"}},
        "totalDiscountSet": {"shopMoney": {"amount": discount, "currencyCode": "USD"}},
        "discountAllocations": (
            [
                {
                    "allocatedAmountSet": {
                        "shopMoney": {"amount": discount, "currencyCode": "USD"}
                    },
                    "discountApplication": {"code": code},
                }
            ]
            if code
            else []
        ),
        "taxLines": [
            {
                "title": "GST",
                "rate": 0.05,
                "priceSet": {"shopMoney": {"amount": "4.5", "currencyCode": "USD"}},
            }
        ],
    }


def _order(has_more_lines: bool = False) -> dict:
    return {
        "id": ORDER_GID,
        "legacyResourceId": "820982911946154508",
        "email": "jon@example.com",
        "createdAt": "2026-11-02T10:00:00Z",
        "updatedAt": "2026-11-03T10:00:00Z",
        "processedAt": "2026-11-02T10:00:00Z",
        "cancelledAt": None,
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "currencyCode": "USD",
        "tags": ["vip", "wholesale"],
        "customer": {
            "id": CUSTOMER,
            "legacyResourceId": "115310627314723954",
            "defaultEmailAddress": {"emailAddress": "john@example.com"},
        },
        "subtotalPriceSet": _bag("99.98", presentment="91.50"),
        "totalPriceSet": _bag("109.98"),
        "totalTaxSet": _bag("4.5"),
        "totalDiscountsSet": _bag("10.0"),
        "currentSubtotalPriceSet": _bag("19.99"),
        "totalShippingPriceSet": _bag("10.0"),
        "discountApplications": {
            "nodes": [
                {"targetType": "LINE_ITEM", "value": {"percentage": 10.0}, "code": "BEAM-10PC"},
                {"targetType": "SHIPPING_LINE", "value": {"percentage": 100.0}, "code": "SHIP"},
                {"targetType": "LINE_ITEM", "value": {"amount": "3.0", "currencyCode": "USD"}},
            ]
        },
        "shippingLines": {
            "nodes": [
                {
                    "discountAllocations": [
                        {
                            "allocatedAmountSet": {
                                "shopMoney": {"amount": "10.0", "currencyCode": "USD"}
                            },
                            "discountApplication": {"code": "SHIP"},
                        }
                    ]
                }
            ]
        },
        "lineItems": {
            "pageInfo": {"hasNextPage": has_more_lines, "endCursor": "line-cursor-1"},
            "nodes": [_line(LINE_1, "89.99", "9.0", "BEAM-10PC")],
        },
        "refunds": [
            {
                "id": REFUND_GID,
                "legacyResourceId": "890088186047892319",
                "createdAt": "2026-11-03T10:00:00Z",
                "refundLineItems": {
                    "pageInfo": {"hasNextPage": False, "endCursor": None},
                    "nodes": [
                        {
                            "quantity": 1,
                            "lineItem": {"id": LINE_1},
                            "subtotalSet": _bag("80.99"),
                            "totalTaxSet": {"shopMoney": {"amount": "4.05", "currencyCode": "USD"}},
                        }
                    ],
                },
            }
        ],
    }


def _orders_page(gids: list[str], next_cursor: str | None) -> dict:
    return {
        "orders": {
            "pageInfo": {"hasNextPage": next_cursor is not None, "endCursor": next_cursor},
            "nodes": [{"id": gid, "updatedAt": "2026-11-03T10:00:00Z"} for gid in gids],
        }
    }


def test_orders_updated_since_pages_and_converts_to_rest_shape(
    shop: Shop, admin: FakeAdmin
) -> None:
    admin.on(
        "BeamOrdersUpdatedSince",
        _orders_page([ORDER_GID], "cursor-1"),
        _orders_page(["gid://shopify/Order/2"], None),
    )
    admin.on("BeamOrder", lambda v: {"order": _order() if v["id"] == ORDER_GID else None})
    since = datetime(2026, 11, 1, 8, 30, tzinfo=UTC) + timedelta(microseconds=0)

    orders = list(ops.orders_updated_since(shop, since=since, page_size=1))

    assert admin.variables("BeamOrdersUpdatedSince") == [
        {"first": 1, "after": None, "query": "updated_at:>'2026-11-01T08:30:00+00:00'"},
        {"first": 1, "after": "cursor-1", "query": "updated_at:>'2026-11-01T08:30:00+00:00'"},
    ]
    assert admin.variables("BeamOrder") == [{"id": ORDER_GID}, {"id": "gid://shopify/Order/2"}]
    (order,) = orders  # the second order vanished meanwhile
    assert order["id"] == 820982911946154508  # exact: never through a float
    assert order["admin_graphql_api_id"] == ORDER_GID
    assert order["financial_status"] == "partially_refunded"
    assert order["currency"] == "USD"
    assert order["subtotal_price"] == "99.98"
    assert order["subtotal_price_set"] == {
        "shop_money": {"amount": "99.98", "currency_code": "USD"},
        "presentment_money": {"amount": "91.50", "currency_code": "EUR"},
    }
    assert order["total_price"] == "109.98"
    assert order["total_tax"] == "4.5"
    assert order["total_discounts"] == "10.0"
    assert order["current_subtotal_price"] == "19.99"
    assert order["total_shipping_price_set"]["shop_money"] == {
        "amount": "10.0",
        "currency_code": "USD",
    }
    assert order["customer"] == {
        "id": 115310627314723954,
        "email": "john@example.com",
        "admin_graphql_api_id": CUSTOMER,
    }
    assert order["discount_codes"] == [
        {"code": "BEAM-10PC", "amount": "9.0", "type": "percentage"},
        {"code": "SHIP", "amount": "10.0", "type": "shipping"},
    ]
    assert order["tags"] == "vip, wholesale"
    assert order["cancelled_at"] is None
    (line,) = order["line_items"]
    assert line["id"] == 487817672276298554
    assert line["product_id"] == 788032119674292922
    assert line["variant_id"] == 49148385
    assert line["price"] == "89.99"
    assert line["total_discount"] == "9.0"
    assert line["gift_card"] is False
    assert line["discount_allocations"][0]["amount"] == "9.0"
    assert line["tax_lines"] == [{"title": "GST", "rate": 0.05, "price": "4.5"}]
    (refund,) = order["refunds"]
    assert refund["id"] == 890088186047892319
    assert refund["order_id"] == 820982911946154508
    assert refund["order_adjustments"] == []
    assert refund["refund_line_items"] == [
        {
            "line_item_id": 487817672276298554,
            "quantity": 1,
            "subtotal": "80.99",
            "subtotal_set": {
                "shop_money": {"amount": "80.99", "currency_code": "USD"},
                "presentment_money": {"amount": "80.99", "currency_code": "USD"},
            },
            "total_tax": "4.05",
        }
    ]


def test_orders_without_since_send_no_query(shop: Shop, admin: FakeAdmin) -> None:
    admin.on("BeamOrdersUpdatedSince", _orders_page([], None))

    assert list(ops.orders_updated_since(shop, since=None)) == []
    assert admin.variables("BeamOrdersUpdatedSince") == [
        {"first": 50, "after": None, "query": None}
    ]


def test_long_orders_fetch_the_remaining_line_items(shop: Shop, admin: FakeAdmin) -> None:
    admin.on("BeamOrdersUpdatedSince", _orders_page([ORDER_GID], None))
    admin.on("BeamOrder", {"order": _order(has_more_lines=True)})
    admin.on(
        "BeamOrderLineItems",
        {
            "order": {
                "lineItems": {
                    "pageInfo": {"hasNextPage": False, "endCursor": "line-cursor-2"},
                    "nodes": [_line(LINE_2, "19.99", "0.0")],
                }
            }
        },
    )

    (order,) = ops.orders_updated_since(shop, since=None)

    assert admin.variables("BeamOrderLineItems") == [{"id": ORDER_GID, "after": "line-cursor-1"}]
    assert [item["id"] for item in order["line_items"]] == [487817672276298554, 789012345678901234]


def test_rest_payload_uses_only_keys_the_webhook_payloads_have() -> None:
    order_sample = json.loads((FIXTURES / "orders_paid.json").read_text())
    refund_sample = json.loads((FIXTURES / "refunds_create.json").read_text())

    payload = ops.order_rest_payload(_order())

    assert set(payload) <= set(order_sample)
    assert set(payload["line_items"][0]) <= set(order_sample["line_items"][0])
    assert set(payload["refunds"][0]) <= set(refund_sample)
    assert set(payload["refunds"][0]["refund_line_items"][0]) <= set(
        refund_sample["refund_line_items"][0]
    )
    assert set(payload["customer"]) <= set(order_sample["customer"])
    assert {k for money in payload["total_price_set"].values() for k in money} == {
        "amount",
        "currency_code",
    }


@pytest.mark.parametrize(
    ("gid", "expected"),
    [
        ("gid://shopify/Order/820982911946154508", 820982911946154508),
        ("gid://shopify/LineItem/18446744073709551615", 18446744073709551615),
        ("gid://shopify/Customer/1?foo=bar", 1),
        (None, None),
        ("gid://shopify/Order/abc", None),
    ],
)
def test_gid_to_id_is_exact(gid: str | None, expected: int | None) -> None:
    assert ops.gid_to_id(gid) == expected


def test_orders_with_many_refunds_read_every_refund(shop: Shop, admin: FakeAdmin) -> None:
    order = _order()
    first_refund = order["refunds"][0]
    loaded = [
        {**first_refund, "id": f"gid://shopify/Refund/{n}", "legacyResourceId": str(n)}
        for n in range(1, ops.ORDER_REFUNDS_MAX + 1)
    ]
    extra = {"id": "gid://shopify/Refund/99", "legacyResourceId": "99", "createdAt": None}
    admin.on("BeamOrdersUpdatedSince", _orders_page([ORDER_GID], None))
    admin.on("BeamOrder", {"order": {**order, "refunds": loaded}})
    admin.on(
        "BeamOrderRefunds",
        {
            "order": {
                "refunds": [
                    {k: r[k] for k in ("id", "legacyResourceId", "createdAt")} for r in loaded
                ]
                + [extra]
            }
        },
    )
    admin.on(
        "BeamRefundLineItems",
        {
            "node": {
                "refundLineItems": {
                    "pageInfo": {"hasNextPage": False, "endCursor": "c"},
                    "nodes": [first_refund["refundLineItems"]["nodes"][0]],
                }
            }
        },
    )

    (payload,) = ops.orders_updated_since(shop, since=None)

    assert [r["id"] for r in payload["refunds"]] == [*range(1, ops.ORDER_REFUNDS_MAX + 1), 99]
    assert admin.variables("BeamRefundLineItems") == [
        {"id": "gid://shopify/Refund/99", "after": None}
    ]
    assert payload["refunds"][-1]["refund_line_items"][0]["line_item_id"] == 487817672276298554


# -- batches of customers: the tier metafield and tags ------------------------------------


def test_text_metafield_write_sends_again_without_the_refused_inputs(
    shop: Shop, admin: FakeAdmin
) -> None:
    refused = {
        "metafieldsSet": {
            "metafields": [],
            "userErrors": [
                {
                    "field": ["metafields", "1", "ownerId"],
                    "message": "Owner does not exist.",
                    "code": "INVALID",
                    "elementIndex": 1,
                }
            ],
        }
    }
    admin.on("BeamCustomerLoyaltyMetafieldsSet", refused, _metafields_set_ok)
    admin.on(
        "BeamCustomerLoyaltyMetafieldsDelete",
        {"metafieldsDelete": {"deletedMetafields": [None], "userErrors": []}},
    )
    a, b, c = (f"gid://shopify/Customer/{n}" for n in (1, 2, 3))

    failed = ops.customer_text_metafield_write(
        shop,
        namespace="$app",
        key="tier",
        values=[(a, "Gold"), (c, None), (b, "Silver")],
    )

    assert failed == {2: "Owner does not exist."}  # positions in ``values``
    first, second = admin.variables("BeamCustomerLoyaltyMetafieldsSet")
    assert [m["ownerId"] for m in first["metafields"]] == [a, b]
    assert [m["ownerId"] for m in second["metafields"]] == [a]
    assert admin.variables("BeamCustomerLoyaltyMetafieldsDelete") == [
        {"metafields": [{"ownerId": c, "namespace": "$app", "key": "tier"}]}
    ]


def test_text_metafield_write_refuses_more_than_25(shop: Shop, admin: FakeAdmin) -> None:
    with pytest.raises(ValueError):
        ops.customer_text_metafield_write(
            shop, namespace="$app", key="tier", values=[(CUSTOMER, "Gold")] * 26
        )
    assert admin.sent == []


def test_tags_batch_is_one_document_and_reports_refusals_by_position(
    shop: Shop, admin: FakeAdmin
) -> None:
    admin.on(
        "BeamTagsBatch",
        {
            "r0": {"userErrors": []},
            "a0": {"userErrors": []},
            "a1": {"userErrors": [{"field": ["id"], "message": "Resource not found"}]},
        },
    )

    failed = ops.customer_tags_batch(
        shop,
        changes=[
            ("gid://shopify/Customer/1", ["VIP: Gold"], ["VIP: Silver"]),
            ("gid://shopify/Customer/2", [], []),  # nothing to change: left out
            ("gid://shopify/Customer/3", ["VIP: Gold"], []),
        ],
    )

    assert failed == {2: "Resource not found"}
    ((_, variables),) = admin.sent
    assert variables == {
        "id0": "gid://shopify/Customer/1",
        "remove0": ["VIP: Silver"],
        "add0": ["VIP: Gold"],
        "id1": "gid://shopify/Customer/3",
        "add1": ["VIP: Gold"],
    }
