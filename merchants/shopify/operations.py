"""Every Admin API operation Beam performs: one typed function each, its GraphQL document a
module-level ``*_DOCUMENT`` constant (tests validate all of them against the real schema).

The functions take the shop explicitly and an optional ``client`` (tests inject one with a
fake ``sleep``). Mutations raise ``merchants.errors.ShopifyUserError`` on ``userErrors``;
the client raises the other failures (see ``merchants.shopify.client``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from merchants.errors import ShopifyApiError
from merchants.shopify.client import AdminClient

if TYPE_CHECKING:
    from merchants.models import Shop

logger = logging.getLogger(__name__)

LOYALTY_METAFIELD_NAMESPACE = "$app:loyalty"
ORDER_LINE_ITEMS_PAGE = 20
ORDER_REFUNDS_MAX = 10
REFUND_LINE_ITEMS_PAGE = 5


@dataclass(frozen=True)
class CreatedDiscount:
    id: str  # DiscountCodeNode GID
    code: str


@dataclass(frozen=True)
class DiscountCodeStatus:
    id: str  # DiscountCodeNode GID
    code: str
    status: str  # ACTIVE | EXPIRED | SCHEDULED (a deactivated code reads EXPIRED)
    usage_count: int
    title: str = ""  # tells Beam's own codes from a merchant's code with the same text


@dataclass(frozen=True)
class StoreCreditCredit:
    """One credit transaction of a customer's store credit account."""

    id: str  # StoreCreditAccountCreditTransaction GID
    amount: Decimal
    currency: str
    created_at: datetime
    event: str  # StoreCreditSystemEvent: ADJUSTMENT for credits made through the API


@dataclass(frozen=True)
class ShopDetails:
    name: str
    email: str
    currency: str
    iana_timezone: str
    plan_name: str


# -- documents ---------------------------------------------------------------------------

_DISCOUNT_USER_ERRORS = "userErrors { field message code extraInfo }"

DISCOUNT_CODE_BASIC_CREATE_DOCUMENT = f"""
mutation BeamDiscountCodeBasicCreate($discount: DiscountCodeBasicInput!) {{
  discountCodeBasicCreate(basicCodeDiscount: $discount) {{
    codeDiscountNode {{
      id
      codeDiscount {{ ... on DiscountCodeBasic {{ codes(first: 1) {{ nodes {{ code }} }} }} }}
    }}
    {_DISCOUNT_USER_ERRORS}
  }}
}}
"""

DISCOUNT_CODE_FREE_SHIPPING_CREATE_DOCUMENT = f"""
mutation BeamDiscountCodeFreeShippingCreate($discount: DiscountCodeFreeShippingInput!) {{
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $discount) {{
    codeDiscountNode {{
      id
      codeDiscount {{
        ... on DiscountCodeFreeShipping {{ codes(first: 1) {{ nodes {{ code }} }} }}
      }}
    }}
    {_DISCOUNT_USER_ERRORS}
  }}
}}
"""

DISCOUNT_CODE_DEACTIVATE_DOCUMENT = f"""
mutation BeamDiscountCodeDeactivate($id: ID!) {{
  discountCodeDeactivate(id: $id) {{
    codeDiscountNode {{ id }}
    {_DISCOUNT_USER_ERRORS}
  }}
}}
"""

DISCOUNT_CODE_DELETE_DOCUMENT = f"""
mutation BeamDiscountCodeDelete($id: ID!) {{
  discountCodeDelete(id: $id) {{
    deletedCodeDiscountId
    {_DISCOUNT_USER_ERRORS}
  }}
}}
"""

DISCOUNT_CODE_LOOKUP_DOCUMENT = """
query BeamDiscountCodeLookup($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      __typename
      ... on DiscountCodeBasic { title status asyncUsageCount codes(first: 1) { nodes { code } } }
      ... on DiscountCodeFreeShipping {
        title status asyncUsageCount codes(first: 1) { nodes { code } }
      }
      ... on DiscountCodeBxgy { title status asyncUsageCount codes(first: 1) { nodes { code } } }
      ... on DiscountCodeApp { title status asyncUsageCount codes(first: 1) { nodes { code } } }
    }
  }
}
"""

STORE_CREDIT_ACCOUNT_CREDIT_DOCUMENT = """
mutation BeamStoreCreditAccountCredit($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
    storeCreditAccountTransaction { id amount { amount currencyCode } }
    userErrors { field message code }
  }
}
"""

# Newest first, credits only. A credit carries no reference of the caller's in 2026-10 (a
# merchant-only ``note`` appears in 2027-01), so a credit is recognised by its owner, amount,
# currency, event (``ADJUSTMENT``: made through the API or admin, not by an order) and time.
# The search syntax filters transactions by type, id and expires_at only, not by createdAt:
# the time window is applied here, page by page, newest first.
STORE_CREDIT_CREDITS_RECENT_DOCUMENT = """
query BeamStoreCreditCreditsRecent($customerId: ID!, $accounts: String!, $after: String) {
  customer(id: $customerId) {
    storeCreditAccounts(first: 1, query: $accounts) {
      nodes {
        id
        transactions(
          first: 50, after: $after, query: "type:credit", sortKey: CREATED_AT, reverse: true
        ) {
          nodes {
            __typename
            createdAt
            event
            amount { amount currencyCode }
            ... on StoreCreditAccountCreditTransaction { id }
          }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
  }
}
"""

CUSTOMER_LOYALTY_METAFIELDS_SET_DOCUMENT = """
mutation BeamCustomerLoyaltyMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key namespace value }
    userErrors { field message code elementIndex }
  }
}
"""

CUSTOMER_LOYALTY_METAFIELDS_DELETE_DOCUMENT = """
mutation BeamCustomerLoyaltyMetafieldsDelete($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) {
    deletedMetafields { key namespace ownerId }
    userErrors { field message }
  }
}
"""

CUSTOMER_TAGS_ADD_DOCUMENT = """
mutation BeamTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

CUSTOMER_TAGS_REMOVE_DOCUMENT = """
mutation BeamTagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

SHOP_DETAILS_DOCUMENT = """
query BeamShopDetails {
  shop { name email currencyCode ianaTimezone plan { publicDisplayName } }
}
"""

ORDERS_UPDATED_SINCE_DOCUMENT = """
query BeamOrdersUpdatedSince($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { id updatedAt }
  }
}
"""

_MONEY_BAG = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"

_LINE_ITEM_FRAGMENT = """
fragment BeamLineItem on LineItem {
  id
  quantity
  isGiftCard
  product { id }
  variant { id }
  originalUnitPriceSet { shopMoney { amount currencyCode } }
  totalDiscountSet { shopMoney { amount currencyCode } }
  discountAllocations {
    allocatedAmountSet { shopMoney { amount currencyCode } }
    discountApplication { ... on DiscountCodeApplication { code } }
  }
  taxLines { title rate priceSet { shopMoney { amount currencyCode } } }
}
"""

_REFUND_LINE_ITEM_FRAGMENT = f"""
fragment BeamRefundLineItem on RefundLineItem {{
  quantity
  lineItem {{ id }}
  subtotalSet {{ {_MONEY_BAG} }}
  totalTaxSet {{ shopMoney {{ amount currencyCode }} }}
}}
"""

ORDER_DOCUMENT = f"""
query BeamOrder($id: ID!) {{
  order(id: $id) {{
    id
    legacyResourceId
    email
    createdAt
    updatedAt
    processedAt
    cancelledAt
    displayFinancialStatus
    currencyCode
    tags
    customer {{ id legacyResourceId defaultEmailAddress {{ emailAddress }} }}
    subtotalPriceSet {{ {_MONEY_BAG} }}
    totalPriceSet {{ {_MONEY_BAG} }}
    totalTaxSet {{ {_MONEY_BAG} }}
    totalDiscountsSet {{ {_MONEY_BAG} }}
    currentSubtotalPriceSet {{ {_MONEY_BAG} }}
    totalShippingPriceSet {{ {_MONEY_BAG} }}
    discountApplications(first: 10) {{
      nodes {{
        targetType
        value {{
          ... on MoneyV2 {{ amount currencyCode }}
          ... on PricingPercentageValue {{ percentage }}
        }}
        ... on DiscountCodeApplication {{ code }}
      }}
    }}
    shippingLines(first: 5) {{
      nodes {{
        discountAllocations {{
          allocatedAmountSet {{ shopMoney {{ amount currencyCode }} }}
          discountApplication {{ ... on DiscountCodeApplication {{ code }} }}
        }}
      }}
    }}
    lineItems(first: {ORDER_LINE_ITEMS_PAGE}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ ...BeamLineItem }}
    }}
    refunds(first: {ORDER_REFUNDS_MAX}) {{
      id
      legacyResourceId
      createdAt
      refundLineItems(first: {REFUND_LINE_ITEMS_PAGE}) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ ...BeamRefundLineItem }}
      }}
    }}
  }}
}}
{_LINE_ITEM_FRAGMENT}
{_REFUND_LINE_ITEM_FRAGMENT}
"""

ORDER_LINE_ITEMS_DOCUMENT = f"""
query BeamOrderLineItems($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: 50, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ ...BeamLineItem }}
    }}
  }}
}}
{_LINE_ITEM_FRAGMENT}
"""

ORDER_REFUNDS_DOCUMENT = """
query BeamOrderRefunds($id: ID!) {
  order(id: $id) { refunds { id legacyResourceId createdAt } }
}
"""

REFUND_LINE_ITEMS_DOCUMENT = f"""
query BeamRefundLineItems($id: ID!, $after: String) {{
  node(id: $id) {{
    ... on Refund {{
      refundLineItems(first: 50, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ ...BeamRefundLineItem }}
      }}
    }}
  }}
}}
{_REFUND_LINE_ITEM_FRAGMENT}
"""


# -- helpers -----------------------------------------------------------------------------


def _client(shop: Shop, client: AdminClient | None) -> AdminClient:
    return client if client is not None else AdminClient(shop)


def _iso(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("aware datetimes only")
    return value.isoformat()


def _decimal_str(value: Decimal) -> str:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"expected a finite Decimal, got {value!r}")
    return str(value)


def _discount_context_and_limits(customer_gid: str) -> dict[str, Any]:
    return {
        "context": {"customers": {"add": [customer_gid]}},
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
    }


def _minimum_requirement(minimum_subtotal: Decimal | None) -> dict[str, Any]:
    if minimum_subtotal is None:
        return {}
    if minimum_subtotal <= 0:
        raise ValueError("minimum_subtotal must be positive")
    return {
        "minimumRequirement": {
            "subtotal": {"greaterThanOrEqualToSubtotal": _decimal_str(minimum_subtotal)}
        }
    }


def _created(payload: dict[str, Any], fallback_code: str) -> CreatedDiscount:
    node = payload.get("codeDiscountNode") or {}
    if not node.get("id"):
        raise ShopifyApiError("discount create returned no discount")
    codes = ((node.get("codeDiscount") or {}).get("codes") or {}).get("nodes") or []
    code = codes[0]["code"] if codes else fallback_code
    return CreatedDiscount(id=node["id"], code=code)


# -- discounts ---------------------------------------------------------------------------


def discount_code_basic_create(
    shop: Shop,
    *,
    code: str,
    title: str,
    customer_gid: str,
    starts_at: datetime,
    ends_at: datetime | None,
    amount: Decimal | None = None,
    percentage: Decimal | None = None,
    variant_gids: list[str] | None = None,
    minimum_subtotal: Decimal | None = None,
    combines_with_order: bool = False,
    combines_with_product: bool = False,
    combines_with_shipping: bool = True,
    client: AdminClient | None = None,
) -> CreatedDiscount:
    """A single-use code only ``customer_gid`` can redeem.

    Value: ``amount`` off the order (once, not per item), or ``percentage`` (0 < p <= 1) off
    the order, or — with ``variant_gids`` — those variants free (``percentage`` defaults to
    1, i.e. 100 % off them; ``amount`` is not allowed then)."""
    if variant_gids:
        if amount is not None:
            raise ValueError("a free-product reward takes no amount")
        percentage = Decimal(1) if percentage is None else percentage
    elif (amount is None) == (percentage is None):
        raise ValueError("exactly one of amount or percentage")
    value: dict[str, Any]
    if amount is not None:
        if amount <= 0:
            raise ValueError("amount must be positive")
        value = {"discountAmount": {"amount": _decimal_str(amount), "appliesOnEachItem": False}}
    else:
        assert percentage is not None
        if not (0 < percentage <= 1):
            raise ValueError("percentage must be in (0, 1]")
        value = {"percentage": float(percentage)}  # the schema's type is Float
    items: dict[str, Any] = (
        {"products": {"productVariantsToAdd": list(variant_gids)}}
        if variant_gids
        else {"all": True}
    )
    discount: dict[str, Any] = {
        "code": code,
        "title": title,
        "startsAt": _iso(starts_at),
        "endsAt": _iso(ends_at) if ends_at is not None else None,
        **_discount_context_and_limits(customer_gid),
        "customerGets": {"value": value, "items": items},
        "combinesWith": {
            "orderDiscounts": combines_with_order,
            "productDiscounts": combines_with_product,
            "shippingDiscounts": combines_with_shipping,
        },
        **_minimum_requirement(minimum_subtotal),
    }
    payload = _client(shop, client).mutate(
        DISCOUNT_CODE_BASIC_CREATE_DOCUMENT, {"discount": discount}, root="discountCodeBasicCreate"
    )
    return _created(payload, code)


def discount_code_free_shipping_create(
    shop: Shop,
    *,
    code: str,
    title: str,
    customer_gid: str,
    starts_at: datetime,
    ends_at: datetime | None,
    minimum_subtotal: Decimal | None = None,
    combines_with_order: bool = True,
    combines_with_product: bool = True,
    client: AdminClient | None = None,
) -> CreatedDiscount:
    """A single-use free-shipping code (all destinations) only ``customer_gid`` can redeem."""
    discount: dict[str, Any] = {
        "code": code,
        "title": title,
        "startsAt": _iso(starts_at),
        "endsAt": _iso(ends_at) if ends_at is not None else None,
        **_discount_context_and_limits(customer_gid),
        "destination": {"all": True},
        "combinesWith": {
            "orderDiscounts": combines_with_order,
            "productDiscounts": combines_with_product,
            "shippingDiscounts": False,
        },
        **_minimum_requirement(minimum_subtotal),
    }
    payload = _client(shop, client).mutate(
        DISCOUNT_CODE_FREE_SHIPPING_CREATE_DOCUMENT,
        {"discount": discount},
        root="discountCodeFreeShippingCreate",
    )
    return _created(payload, code)


def discount_code_deactivate(
    shop: Shop, *, discount_id: str, client: AdminClient | None = None
) -> None:
    """End a code now (it stays visible to the merchant, reading EXPIRED)."""
    _client(shop, client).mutate(
        DISCOUNT_CODE_DEACTIVATE_DOCUMENT, {"id": discount_id}, root="discountCodeDeactivate"
    )


def discount_code_delete(
    shop: Shop, *, discount_id: str, client: AdminClient | None = None
) -> None:
    """Delete a code for good."""
    _client(shop, client).mutate(
        DISCOUNT_CODE_DELETE_DOCUMENT, {"id": discount_id}, root="discountCodeDelete"
    )


def discount_code_lookup(
    shop: Shop, *, code: str, client: AdminClient | None = None
) -> DiscountCodeStatus | None:
    """The code's discount, status and usage, or None when no discount has this code."""
    data = _client(shop, client).execute(DISCOUNT_CODE_LOOKUP_DOCUMENT, {"code": code}).data
    node = data.get("codeDiscountNodeByCode")
    if not node:
        return None
    discount = node.get("codeDiscount") or {}
    codes = (discount.get("codes") or {}).get("nodes") or []
    return DiscountCodeStatus(
        id=node["id"],
        code=codes[0]["code"] if codes else code,
        status=str(discount.get("status", "")),
        usage_count=int(discount.get("asyncUsageCount") or 0),
        title=str(discount.get("title") or ""),
    )


# -- store credit, metafields, tags ------------------------------------------------------


def store_credit_account_credit(
    shop: Shop,
    *,
    customer_gid: str,
    amount: Decimal,
    currency: str,
    client: AdminClient | None = None,
) -> str:
    """Credit the customer's store credit account (created on first credit) in
    ``currency``; returns the transaction GID.

    The mutation takes no idempotency key (no ``@idempotent`` support), so it is sent once:
    no retry inside the call, whatever fails. A timeout or 5xx is ambiguous (the store may
    have applied the credit) and surfaces as ``ShopifyApiError``; the caller looks the credit
    up (``store_credit_credits_since``) before crediting again. A given ``client`` should be
    built with ``max_attempts=1`` for the same reason."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    api = client if client is not None else AdminClient(shop, max_attempts=1)
    payload = api.mutate(
        STORE_CREDIT_ACCOUNT_CREDIT_DOCUMENT,
        {
            "id": customer_gid,
            "creditInput": {
                "creditAmount": {"amount": _decimal_str(amount), "currencyCode": currency.upper()}
            },
        },
        root="storeCreditAccountCredit",
    )
    transaction = payload.get("storeCreditAccountTransaction") or {}
    if not transaction.get("id"):
        raise ShopifyApiError("storeCreditAccountCredit returned no transaction")
    return str(transaction["id"])


STORE_CREDIT_CREDITS_MAX_PAGES = 20


def store_credit_credits_since(
    shop: Shop,
    *,
    customer_gid: str,
    currency: str,
    since: datetime,
    client: AdminClient | None = None,
) -> list[StoreCreditCredit]:
    """The credits of the customer's ``currency`` account created at or after ``since``,
    newest first (none when the customer has no such account). Raises ``ShopifyApiError``
    rather than answer partially when there are too many to read."""
    if since.tzinfo is None or since.utcoffset() is None:
        raise ValueError("aware datetimes only")
    floor = since.replace(microsecond=0)  # the platform's DateTime has whole seconds
    api = _client(shop, client)
    variables: dict[str, Any] = {
        "customerId": customer_gid,
        "accounts": f"currency_code:{currency.upper()}",
        "after": None,
    }
    credits: list[StoreCreditCredit] = []
    for _ in range(STORE_CREDIT_CREDITS_MAX_PAGES):
        data = api.execute(STORE_CREDIT_CREDITS_RECENT_DOCUMENT, variables).data
        customer = data.get("customer") or {}
        accounts = (customer.get("storeCreditAccounts") or {}).get("nodes") or []
        if not accounts:
            return credits
        page = accounts[0].get("transactions") or {}
        for node in page.get("nodes") or []:
            created_at = datetime.fromisoformat(str(node["createdAt"]).replace("Z", "+00:00"))
            if created_at < floor:
                return credits
            if node.get("__typename") != "StoreCreditAccountCreditTransaction":
                continue
            money = node.get("amount") or {}
            credits.append(
                StoreCreditCredit(
                    id=str(node["id"]),
                    amount=Decimal(str(money.get("amount"))),
                    currency=str(money.get("currencyCode") or ""),
                    created_at=created_at,
                    event=str(node.get("event") or ""),
                )
            )
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return credits
        variables["after"] = info.get("endCursor")
    raise ShopifyApiError(
        f"{shop.domain}: more than {STORE_CREDIT_CREDITS_MAX_PAGES} pages of store credit "
        f"since {since.isoformat()}"
    )


def customer_loyalty_metafields_set(
    shop: Shop,
    *,
    customer_gid: str,
    balance: int,
    tier: str | None,
    client: AdminClient | None = None,
) -> None:
    """Mirror the balance and tier onto the customer (``$app:loyalty``) for Liquid and
    extensions. ``tier=None`` deletes the tier metafield (a metafield cannot be blank)."""
    api = _client(shop, client)
    metafields: list[dict[str, Any]] = [
        {
            "ownerId": customer_gid,
            "namespace": LOYALTY_METAFIELD_NAMESPACE,
            "key": "points_balance",
            "type": "number_integer",
            "value": str(int(balance)),
        }
    ]
    if tier is not None:
        metafields.append(
            {
                "ownerId": customer_gid,
                "namespace": LOYALTY_METAFIELD_NAMESPACE,
                "key": "tier",
                "type": "single_line_text_field",
                "value": tier,
            }
        )
    api.mutate(
        CUSTOMER_LOYALTY_METAFIELDS_SET_DOCUMENT, {"metafields": metafields}, root="metafieldsSet"
    )
    if tier is None:
        api.mutate(
            CUSTOMER_LOYALTY_METAFIELDS_DELETE_DOCUMENT,
            {
                "metafields": [
                    {
                        "ownerId": customer_gid,
                        "namespace": LOYALTY_METAFIELD_NAMESPACE,
                        "key": "tier",
                    }
                ]
            },
            root="metafieldsDelete",
        )


def customer_tags_add(
    shop: Shop, *, gid: str, tags: list[str], client: AdminClient | None = None
) -> None:
    """Add tags to a customer (existing tags are kept; adding one twice is a no-op)."""
    if tags:
        _client(shop, client).mutate(
            CUSTOMER_TAGS_ADD_DOCUMENT, {"id": gid, "tags": list(tags)}, root="tagsAdd"
        )


def customer_tags_remove(
    shop: Shop, *, gid: str, tags: list[str], client: AdminClient | None = None
) -> None:
    """Remove tags from a customer (absent tags are ignored)."""
    if tags:
        _client(shop, client).mutate(
            CUSTOMER_TAGS_REMOVE_DOCUMENT, {"id": gid, "tags": list(tags)}, root="tagsRemove"
        )


# -- shop ------------------------------------------------------------------------------


def shop_details_fetch(shop: Shop, *, client: AdminClient | None = None) -> ShopDetails:
    """Name, contact email, currency, time zone and plan of the shop."""
    data = _client(shop, client).execute(SHOP_DETAILS_DOCUMENT).data
    details = data.get("shop") or {}
    return ShopDetails(
        name=details.get("name") or "",
        email=details.get("email") or "",
        currency=details.get("currencyCode") or "",
        iana_timezone=details.get("ianaTimezone") or "",
        plan_name=(details.get("plan") or {}).get("publicDisplayName") or "",
    )


# -- orders (reconciliation) ------------------------------------------------------------


def orders_updated_since(
    shop: Shop,
    *,
    since: datetime | None,
    page_size: int = 50,
    client: AdminClient | None = None,
) -> Iterator[dict[str, Any]]:
    """Orders updated after ``since`` (all when None), oldest update first, each converted to
    the REST webhook payload shape (see ``order_rest_payload``).

    One cheap query pages through the ids; each order is then read by one query of bounded
    cost (under the 1000-point cap) plus follow-ups only for very long orders."""
    api = _client(shop, client)
    query = f"updated_at:>'{_iso(since.astimezone(UTC))}'" if since is not None else None
    after: str | None = None
    while True:
        data = api.execute(
            ORDERS_UPDATED_SINCE_DOCUMENT, {"first": page_size, "after": after, "query": query}
        ).data
        connection = data.get("orders") or {}
        for node in connection.get("nodes") or []:
            order = order_fetch(shop, gid=node["id"], client=api)
            if order is not None:
                yield order
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return
        after = page.get("endCursor")


def order_fetch(
    shop: Shop, *, gid: str, client: AdminClient | None = None
) -> dict[str, Any] | None:
    """One order in the REST webhook payload shape, or None when it no longer exists."""
    api = _client(shop, client)
    order = api.execute(ORDER_DOCUMENT, {"id": gid}).data.get("order")
    if not order:
        return None
    line_items = _remaining_pages(
        api, ORDER_LINE_ITEMS_DOCUMENT, gid, order["lineItems"], ("order", "lineItems")
    )
    refunds = list(order.get("refunds") or [])
    if len(refunds) >= ORDER_REFUNDS_MAX:
        refunds = _all_refunds(api, gid, refunds)
        order = {**order, "refunds": refunds}
    refund_line_items = {
        refund["id"]: _remaining_pages(
            api,
            REFUND_LINE_ITEMS_DOCUMENT,
            refund["id"],
            refund.get("refundLineItems") or {"pageInfo": {"hasNextPage": True}},
            ("node", "refundLineItems"),
        )
        for refund in refunds
    }
    return order_rest_payload(order, line_items=line_items, refund_line_items=refund_line_items)


def _all_refunds(api: AdminClient, gid: str, loaded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first query reads ORDER_REFUNDS_MAX refunds with their lines (a list, not a
    connection: no cursor); a full order reads every refund's id, and the refunds not yet
    loaded get their lines from REFUND_LINE_ITEMS_DOCUMENT."""
    order = api.execute(ORDER_REFUNDS_DOCUMENT, {"id": gid}).data.get("order") or {}
    by_id = {refund["id"]: refund for refund in loaded}
    return [by_id.get(refund["id"], refund) for refund in order.get("refunds") or []] or loaded


def _remaining_pages(
    api: AdminClient,
    document: str,
    owner_gid: str,
    first_page: dict[str, Any],
    path: tuple[str, str],
) -> list[dict[str, Any]]:
    nodes = list(first_page.get("nodes") or [])
    page = first_page.get("pageInfo") or {}
    while page.get("hasNextPage"):
        data = api.execute(document, {"id": owner_gid, "after": page.get("endCursor")}).data
        connection = (data.get(path[0]) or {}).get(path[1]) or {}
        nodes.extend(connection.get("nodes") or [])
        page = connection.get("pageInfo") or {}
    return nodes


# -- GraphQL order → REST payload ---------------------------------------------------------


def gid_to_id(gid: str | None) -> int | None:
    """``gid://shopify/Order/820982911946154508`` → 820982911946154508 (exact, no float)."""
    if not gid:
        return None
    tail = str(gid).rsplit("/", 1)[-1].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def _money(amount: Any) -> str:
    return str(Decimal(str(amount))) if amount is not None else "0.00"


def _money_set(bag: dict[str, Any] | None, currency: str) -> dict[str, Any]:
    bag = bag or {}
    shop_money = bag.get("shopMoney") or {"amount": "0.00", "currencyCode": currency}
    presentment = bag.get("presentmentMoney") or shop_money
    return {
        "shop_money": {
            "amount": _money(shop_money.get("amount")),
            "currency_code": shop_money.get("currencyCode") or currency,
        },
        "presentment_money": {
            "amount": _money(presentment.get("amount")),
            "currency_code": presentment.get("currencyCode") or currency,
        },
    }


def _shop_amount(bag: dict[str, Any] | None) -> str:
    return _money(((bag or {}).get("shopMoney") or {}).get("amount"))


def _datetime_field(value: str | None) -> str | None:
    return value or None


def _line_item(node: dict[str, Any], currency: str) -> dict[str, Any]:
    return {
        "id": gid_to_id(node.get("id")),
        "admin_graphql_api_id": node.get("id"),
        "product_id": gid_to_id((node.get("product") or {}).get("id")),
        "variant_id": gid_to_id((node.get("variant") or {}).get("id")),
        "quantity": int(node.get("quantity") or 0),
        "price": _shop_amount(node.get("originalUnitPriceSet")),
        "gift_card": bool(node.get("isGiftCard")),
        "total_discount": _shop_amount(node.get("totalDiscountSet")),
        "discount_allocations": [
            {
                "amount": _shop_amount(alloc.get("allocatedAmountSet")),
                "amount_set": _money_set(alloc.get("allocatedAmountSet"), currency),
                "discount_code": (alloc.get("discountApplication") or {}).get("code"),
            }
            for alloc in node.get("discountAllocations") or []
        ],
        "tax_lines": [
            {
                "title": tax.get("title"),
                "rate": tax.get("rate"),
                "price": _shop_amount(tax.get("priceSet")),
            }
            for tax in node.get("taxLines") or []
        ],
    }


def _discount_codes(
    order: dict[str, Any], line_items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """REST ``discount_codes``: the amount is what the code actually took (its allocations
    on line items and shipping lines); the type follows the application's value/target."""
    allocated: dict[str, Decimal] = {}
    allocation_sources = list(line_items) + list(
        (order.get("shippingLines") or {}).get("nodes") or []
    )
    for source in allocation_sources:
        for alloc in source.get("discountAllocations") or []:
            code = (alloc.get("discountApplication") or {}).get("code")
            if code:
                amount = Decimal(_shop_amount(alloc.get("allocatedAmountSet")))
                allocated[code] = allocated.get(code, Decimal(0)) + amount
    codes = []
    for application in (order.get("discountApplications") or {}).get("nodes") or []:
        code = application.get("code")
        if not code:
            continue
        value = application.get("value") or {}
        if application.get("targetType") == "SHIPPING_LINE":
            kind = "shipping"
        elif "percentage" in value:
            kind = "percentage"
        else:
            kind = "fixed_amount"
        if code in allocated:
            amount = str(allocated[code])
        elif kind == "fixed_amount":
            amount = _money(value.get("amount"))
        else:
            amount = "0.00"
        codes.append({"code": code, "amount": amount, "type": kind})
    return codes


def _refund(
    refund: dict[str, Any], order_id: int | None, items: list[dict[str, Any]], currency: str
) -> dict[str, Any]:
    return {
        "id": gid_to_id(refund.get("id")),
        "admin_graphql_api_id": refund.get("id"),
        "order_id": order_id,
        "created_at": _datetime_field(refund.get("createdAt")),
        "refund_line_items": [
            {
                "line_item_id": gid_to_id((item.get("lineItem") or {}).get("id")),
                "quantity": int(item.get("quantity") or 0),
                "subtotal": _shop_amount(item.get("subtotalSet")),
                "subtotal_set": _money_set(item.get("subtotalSet"), currency),
                "total_tax": _shop_amount(item.get("totalTaxSet")),
            }
            for item in items
        ],
        "order_adjustments": [],
    }


def order_rest_payload(
    order: dict[str, Any],
    *,
    line_items: list[dict[str, Any]] | None = None,
    refund_line_items: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A GraphQL ``Order`` (as ``ORDER_DOCUMENT`` selects it) in the REST webhook shape, for
    the fields Beam reads. Money amounts are strings (REST's refund line ``subtotal`` and
    ``total_tax`` are JSON numbers; here they are strings too, so never floats).

    Not filled (not selected or not in the schema the same way): ``order_adjustments`` (always
    ``[]``), ``discount_applications``, ``shipping_lines``, ``fulfillments``, addresses,
    ``note_attributes``, ``source_name``, ``name``/``order_number``, ``current_total_*``
    except ``current_subtotal_price``, line item ``title``/``sku``/``price_set``/
    ``fulfillment_status``, and discount allocations' ``discount_application_index`` (each
    allocation carries ``discount_code`` instead). ``customer`` has only id, email and GID."""
    currency = order.get("currencyCode") or ""
    order_id = gid_to_id(order.get("id"))
    legacy = order.get("legacyResourceId")
    if legacy is not None and str(legacy).isdigit():
        order_id = int(str(legacy))
    items = (
        line_items if line_items is not None else (order.get("lineItems") or {}).get("nodes", [])
    )
    refund_items = refund_line_items or {}
    customer = order.get("customer")
    status = order.get("displayFinancialStatus")
    payload: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": order.get("id"),
        "email": order.get("email"),
        "created_at": _datetime_field(order.get("createdAt")),
        "updated_at": _datetime_field(order.get("updatedAt")),
        "processed_at": _datetime_field(order.get("processedAt")),
        "cancelled_at": _datetime_field(order.get("cancelledAt")),
        "financial_status": status.lower() if status else None,
        "currency": currency,
        "subtotal_price": _shop_amount(order.get("subtotalPriceSet")),
        "total_price": _shop_amount(order.get("totalPriceSet")),
        "total_tax": _shop_amount(order.get("totalTaxSet")),
        "total_discounts": _shop_amount(order.get("totalDiscountsSet")),
        "current_subtotal_price": _shop_amount(order.get("currentSubtotalPriceSet")),
        "subtotal_price_set": _money_set(order.get("subtotalPriceSet"), currency),
        "total_price_set": _money_set(order.get("totalPriceSet"), currency),
        "total_tax_set": _money_set(order.get("totalTaxSet"), currency),
        "total_discounts_set": _money_set(order.get("totalDiscountsSet"), currency),
        "current_subtotal_price_set": _money_set(order.get("currentSubtotalPriceSet"), currency),
        "total_shipping_price_set": _money_set(order.get("totalShippingPriceSet"), currency),
        "customer": (
            {
                "id": _customer_id(customer),
                "email": (customer.get("defaultEmailAddress") or {}).get("emailAddress"),
                "admin_graphql_api_id": customer.get("id"),
            }
            if customer
            else None
        ),
        "discount_codes": _discount_codes(order, items),
        "line_items": [_line_item(node, currency) for node in items],
        "refunds": [
            _refund(
                refund,
                order_id,
                refund_items.get(
                    refund["id"], (refund.get("refundLineItems") or {}).get("nodes") or []
                ),
                currency,
            )
            for refund in order.get("refunds") or []
        ],
        "tags": ", ".join(order.get("tags") or []),
    }
    return payload


def _customer_id(customer: dict[str, Any]) -> int | None:
    legacy = customer.get("legacyResourceId")
    if legacy is not None and str(legacy).isdigit():
        return int(str(legacy))
    return gid_to_id(customer.get("id"))
