from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from devstore import services
from devstore.models import DevCustomer, DevDiscountCode, DevMetafield, DevShop
from tests.devstore.factories import DevCustomerFactory, DevProductFactory

ORDER_FIELDS = """
  id legacyResourceId name email createdAt updatedAt processedAt cancelledAt
  displayFinancialStatus currencyCode customer { id email }
  currentSubtotalPriceSet { shopMoney { amount currencyCode } }
  subtotalPriceSet { shopMoney { amount currencyCode } }
  totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount } }
  totalTaxSet { shopMoney { amount } }
  totalShippingPriceSet { shopMoney { amount } }
  totalDiscountsSet { shopMoney { amount } }
  lineItems(first: 10) { nodes { id quantity variant { id } product { id }
    originalUnitPriceSet { shopMoney { amount } } discountedTotalSet { shopMoney { amount } }
    isGiftCard requiresShipping } }
  discountCodes
  refunds { id createdAt totalRefundedSet { shopMoney { amount } }
    refundLineItems(first: 10) {
      nodes { lineItem { id } quantity subtotalSet { shopMoney { amount } } } } }
  tags test
"""

BASIC_CREATE = """
mutation Create($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { title status usageLimit
      appliesOncePerCustomer asyncUsageCount
      context { ... on DiscountCustomers { customers { id } } }
      customerGets { value { ... on DiscountAmount { amount { amount currencyCode } } } } } } }
    userErrors { field message code }
  }
}
"""


def _basic_input(code: str, **extra):
    return {
        "code": code,
        "title": f"Reward {code}",
        "startsAt": timezone.now().isoformat(),
        "customerGets": {
            "value": {"discountAmount": {"amount": "10.00", "appliesOnEachItem": False}},
            "items": {"all": True},
        },
        **extra,
    }


@pytest.fixture
def catalogue(dev_shop):
    shirt = DevProductFactory(shop=dev_shop, title="Shirt", price=Decimal("30.00"))
    card = DevProductFactory(
        shop=dev_shop, title="Gift card", price=Decimal("25.00"), gift_card=True
    )
    return shirt.variants.get(), card.variants.get()


def test_invalid_document_is_rejected_with_the_schema_error(gql):
    response = gql("{ shop { name nonsenseField } }")
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == "Cannot query field 'nonsenseField' on type 'Shop'."


def test_unparsable_json_is_400(client, dev_shop, access_token):
    response = client.post(
        f"/devstore/{dev_shop.domain}/admin/api/2026-10/graphql.json",
        data="{not json",
        content_type="application/json",
        headers={"X-Shopify-Access-Token": access_token},
    )
    assert response.status_code == 400


def test_shop_query_and_cost_extension(gql, dev_shop):
    body = gql(
        "{ shop { name email currencyCode ianaTimezone myshopifyDomain plan { displayName } } }"
    ).json()
    assert body["data"]["shop"] == {
        "name": dev_shop.name,
        "email": dev_shop.email,
        "currencyCode": "USD",
        "ianaTimezone": "America/New_York",
        "myshopifyDomain": dev_shop.domain,
        "plan": {"displayName": "Basic"},
    }
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2
    assert cost["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 1998,
        "restoreRate": 100.0,
    }


def test_customer_and_customers_pagination_and_query(gql, dev_shop):
    customers = [DevCustomerFactory(shop=dev_shop) for _ in range(3)]
    one = gql(
        "query($id: ID!) { customer(id: $id) { id legacyResourceId email firstName "
        "defaultEmailAddress { emailAddress } tags } }",
        {"id": customers[1].gid},
    ).json()["data"]["customer"]
    assert one == {
        "id": customers[1].gid,
        "legacyResourceId": str(customers[1].id),
        "email": customers[1].email,
        "firstName": "Ada",
        "defaultEmailAddress": {"emailAddress": customers[1].email},
        "tags": [],
    }
    query = (
        "query($after: String, $q: String) { customers(first: 2, after: $after, query: $q) "
        "{ nodes { id } pageInfo { hasNextPage endCursor } } }"
    )
    page1 = gql(query).json()["data"]["customers"]
    assert [n["id"] for n in page1["nodes"]] == [c.gid for c in customers[:2]]
    assert page1["pageInfo"]["hasNextPage"] is True
    page2 = gql(query, {"after": page1["pageInfo"]["endCursor"]}).json()["data"]["customers"]
    assert [n["id"] for n in page2["nodes"]] == [customers[2].gid]
    assert page2["pageInfo"]["hasNextPage"] is False
    by_email = gql(query, {"q": f"email:{customers[0].email}"}).json()["data"]["customers"]
    assert [n["id"] for n in by_email["nodes"]] == [customers[0].gid]


def test_order_query_returns_loyalty_fields(gql, dev_shop, catalogue):
    shirt, card = catalogue
    customer = DevCustomerFactory(shop=dev_shop)
    order = services.order_place(
        dev_shop,
        customer=customer,
        lines=[(shirt, 2), (card, 1)],
        shipping=Decimal("5.00"),
        tax_rate=Decimal("0.10"),
    )
    line = order.payload["line_items"][0]
    services.order_refund(order, [(line["id"], 1)])
    data = gql(f"query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}", {"id": order.gid})
    node = data.json()["data"]["order"]
    assert node["id"] == order.gid and node["legacyResourceId"] == str(order.id)
    assert node["customer"] == {"id": customer.gid, "email": customer.email}
    assert node["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert node["subtotalPriceSet"]["shopMoney"] == {"amount": "85.00", "currencyCode": "USD"}
    assert node["totalTaxSet"]["shopMoney"]["amount"] == "6.00"
    assert node["totalPriceSet"]["shopMoney"]["amount"] == "96.00"
    assert node["currentSubtotalPriceSet"]["shopMoney"]["amount"] == "55.00"
    assert node["totalShippingPriceSet"]["shopMoney"]["amount"] == "5.00"
    items = node["lineItems"]["nodes"]
    assert [(i["quantity"], i["isGiftCard"], i["requiresShipping"]) for i in items] == [
        (2, False, True),
        (1, True, False),
    ]
    assert items[0]["variant"]["id"] == shirt.gid
    assert items[0]["originalUnitPriceSet"]["shopMoney"]["amount"] == "30.00"
    refund = node["refunds"][0]
    assert refund["totalRefundedSet"]["shopMoney"]["amount"] == "33.00"
    assert refund["refundLineItems"]["nodes"] == [
        {
            "lineItem": {"id": line["admin_graphql_api_id"]},
            "quantity": 1,
            "subtotalSet": {"shopMoney": {"amount": "30.00"}},
        }
    ]


def test_orders_updated_since_sorted_by_updated_at_with_paging(gql, dev_shop, catalogue):
    shirt, _ = catalogue
    base = timezone.now() - timedelta(days=10)
    orders = [
        services.order_place(
            dev_shop, email="g@example.com", lines=[(shirt, 1)], at=base + timedelta(days=i)
        )
        for i in range(4)
    ]
    services.order_cancel(orders[0], at=base + timedelta(days=5))  # now the most recent update
    since = (base + timedelta(days=1, hours=12)).isoformat()
    query = (
        "query($q: String, $after: String) { orders(first: 2, after: $after, query: $q, "
        "sortKey: UPDATED_AT) { nodes { id updatedAt } pageInfo { hasNextPage endCursor } } }"
    )
    first = gql(query, {"q": f"updated_at:>'{since}'"}).json()["data"]["orders"]
    assert [n["id"] for n in first["nodes"]] == [orders[2].gid, orders[3].gid]
    second = gql(query, {"q": f"updated_at:>'{since}'", "after": first["pageInfo"]["endCursor"]})
    page = second.json()["data"]["orders"]
    assert [n["id"] for n in page["nodes"]] == [orders[0].gid]
    assert page["pageInfo"]["hasNextPage"] is False


def test_discount_code_basic_create_with_context_and_limits(gql, dev_shop):
    customer = DevCustomerFactory(shop=dev_shop)
    body = gql(
        BASIC_CREATE,
        {
            "input": _basic_input(
                "BEAM-10",
                context={"customers": {"add": [customer.gid]}},
                usageLimit=1,
                appliesOncePerCustomer=True,
            )
        },
    ).json()["data"]["discountCodeBasicCreate"]
    assert body["userErrors"] == []
    discount = body["codeDiscountNode"]["codeDiscount"]
    assert discount["status"] == "ACTIVE"
    assert discount["usageLimit"] == 1 and discount["appliesOncePerCustomer"] is True
    assert discount["context"] == {"customers": [{"id": customer.gid}]}
    assert discount["customerGets"]["value"]["amount"] == {"amount": "10.00", "currencyCode": "USD"}
    stored = DevDiscountCode.objects.get(code="BEAM-10")
    assert stored.customer_ids == [customer.id] and stored.value == Decimal("10")
    assert body["codeDiscountNode"]["id"] == stored.gid


def test_duplicate_code_is_a_user_error(gql, dev_shop):
    assert (
        gql(BASIC_CREATE, {"input": _basic_input("DUP")}).json()["data"]["discountCodeBasicCreate"][
            "userErrors"
        ]
        == []
    )
    again = gql(BASIC_CREATE, {"input": _basic_input("dup")}).json()["data"][
        "discountCodeBasicCreate"
    ]
    assert again["codeDiscountNode"] is None
    assert again["userErrors"] == [
        {
            "field": ["basicCodeDiscount", "code"],
            "message": "Code must be unique. Please try a different code.",
            "code": "TAKEN",
        }
    ]
    assert DevDiscountCode.objects.count() == 1


def test_free_shipping_deactivate_delete_and_lookup_by_code(gql, dev_shop):
    created = gql(
        """mutation($i: DiscountCodeFreeShippingInput!) { discountCodeFreeShippingCreate(
             freeShippingCodeDiscount: $i) { codeDiscountNode { id } userErrors { message } } }""",
        {
            "i": {
                "code": "SHIPFREE",
                "title": "Free shipping",
                "startsAt": timezone.now().isoformat(),
            }
        },
    ).json()["data"]["discountCodeFreeShippingCreate"]
    gid = created["codeDiscountNode"]["id"]
    lookup = """query($c: String!) { codeDiscountNodeByCode(code: $c) { id codeDiscount {
        __typename ... on DiscountCodeFreeShipping { status asyncUsageCount } } } }"""
    found = gql(lookup, {"c": "shipfree"}).json()["data"]["codeDiscountNodeByCode"]
    assert found == {
        "id": gid,
        "codeDiscount": {
            "__typename": "DiscountCodeFreeShipping",
            "status": "ACTIVE",
            "asyncUsageCount": 0,
        },
    }
    deactivated = gql(
        """mutation($id: ID!) { discountCodeDeactivate(id: $id) { codeDiscountNode { codeDiscount {
            ... on DiscountCodeFreeShipping { status } } } userErrors { message } } }""",
        {"id": gid},
    ).json()["data"]["discountCodeDeactivate"]
    assert deactivated["codeDiscountNode"]["codeDiscount"]["status"] == "EXPIRED"
    deleted = gql(
        "mutation($id: ID!) { discountCodeDelete(id: $id) "
        "{ deletedCodeDiscountId userErrors { message } } }",
        {"id": gid},
    ).json()["data"]["discountCodeDelete"]
    assert deleted == {"deletedCodeDiscountId": gid, "userErrors": []}
    assert gql(lookup, {"c": "SHIPFREE"}).json()["data"]["codeDiscountNodeByCode"] is None
    missing = gql(
        "mutation($id: ID!) { discountCodeDelete(id: $id) { userErrors { field message } } }",
        {"id": gid},
    ).json()["data"]["discountCodeDelete"]
    assert missing["userErrors"] == [{"field": ["id"], "message": "Discount does not exist"}]


def test_store_credit_metafields_and_tags(gql, dev_shop):
    customer = DevCustomerFactory(shop=dev_shop)
    credit = gql(
        """mutation($id: ID!, $input: StoreCreditAccountCreditInput!) {
             storeCreditAccountCredit(id: $id, creditInput: $input) {
               storeCreditAccountTransaction { amount { amount currencyCode }
                 account { balance { amount } } }
               userErrors { field message code } } }""",
        {"id": customer.gid, "input": {"creditAmount": {"amount": "12.50", "currencyCode": "USD"}}},
    ).json()["data"]["storeCreditAccountCredit"]
    assert credit["userErrors"] == []
    assert credit["storeCreditAccountTransaction"]["account"]["balance"]["amount"] == "12.50"
    refused = gql(
        """mutation($id: ID!, $input: StoreCreditAccountCreditInput!) {
             storeCreditAccountCredit(id: $id, creditInput: $input) { userErrors { code } } }""",
        {"id": customer.gid, "input": {"creditAmount": {"amount": "0", "currencyCode": "USD"}}},
    ).json()["data"]["storeCreditAccountCredit"]
    assert refused["userErrors"] == [{"code": "NEGATIVE_OR_ZERO_AMOUNT"}]
    assert DevCustomer.objects.get(pk=customer.pk).store_credit == Decimal("12.50")

    set_result = gql(
        """mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) {
             metafields { namespace key value type } userErrors { field message code } } }""",
        {
            "m": [
                {
                    "ownerId": customer.gid,
                    "namespace": "$app:loyalty",
                    "key": "points",
                    "type": "number_integer",
                    "value": "120",
                }
            ]
        },
    ).json()["data"]["metafieldsSet"]
    assert set_result["userErrors"] == []
    assert set_result["metafields"][0]["namespace"].endswith("--loyalty")
    read = gql(
        """query($id: ID!) { customer(id: $id) { metafield(namespace: "$app:loyalty", key: "points")
             { value } tags } }""",
        {"id": customer.gid},
    )
    assert read.json()["data"]["customer"]["metafield"] == {"value": "120"}
    bad = gql(
        """mutation($m: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $m) {
             userErrors { field code } } }""",
        {
            "m": [
                {
                    "ownerId": customer.gid,
                    "namespace": "$app:loyalty",
                    "key": "points",
                    "type": "number_integer",
                    "value": "lots",
                }
            ]
        },
    ).json()["data"]["metafieldsSet"]
    assert bad["userErrors"] == [{"field": ["metafields", "0", "value"], "code": "INVALID_VALUE"}]
    assert DevMetafield.objects.get().value == "120"

    tags = (
        "mutation($id: ID!, $t: [String!]!) "
        "{ %s(id: $id, tags: $t) { node { id } userErrors { message } } }"
    )
    gql(tags % "tagsAdd", {"id": customer.gid, "t": ["beam-gold", "vip"]})
    gql(tags % "tagsRemove", {"id": customer.gid, "t": ["vip"]})
    assert DevCustomer.objects.get(pk=customer.pk).tags == ["beam-gold"]


def test_throttle_returns_throttled_then_recovers(gql, dev_shop):
    DevShop.objects.filter(pk=dev_shop.pk).update(throttle_strict=True)
    query = "{ customers(first: 20) { nodes { id } } }"  # cost 22
    costs = [gql(query).json() for _ in range(3)]
    assert "data" in costs[0] and "data" in costs[1]
    assert costs[2]["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    status = costs[2]["extensions"]["cost"]["throttleStatus"]
    assert status["maximumAvailable"] == 50.0 and status["restoreRate"] == 10.0
    assert status["currentlyAvailable"] < 22

    # Two seconds later the bucket has refilled 20 points.
    DevShop.objects.filter(pk=dev_shop.pk).update(
        throttle_updated_at=timezone.now() - timedelta(seconds=2)
    )
    assert "data" in gql(query).json()


def test_throttle_can_answer_429_with_retry_after(gql, dev_shop):
    DevShop.objects.filter(pk=dev_shop.pk).update(throttle_strict=True, throttle_http_429=True)
    query = "{ customers(first: 20) { nodes { id } } }"
    gql(query), gql(query)
    response = gql(query)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
