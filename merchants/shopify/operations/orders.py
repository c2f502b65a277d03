"""Orders for reconciliation: the ids updated since a time, then each order in full."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from merchants.shopify.client import AdminClient
from merchants.shopify.operations.arguments import admin_client, iso
from merchants.shopify.operations.order_payload import order_rest_payload

if TYPE_CHECKING:
    from merchants.models import Shop


ORDER_LINE_ITEMS_PAGE = 20
ORDER_REFUNDS_MAX = 10
REFUND_LINE_ITEMS_PAGE = 5


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
    api = admin_client(shop, client)
    query = f"updated_at:>'{iso(since.astimezone(UTC))}'" if since is not None else None
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
    api = admin_client(shop, client)
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
