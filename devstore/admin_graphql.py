"""The Admin GraphQL API of a simulated shop.

Documents are parsed and validated against the platform's real schema, then executed by
graphql-core on that schema with a root value of resolver callables: objects are plain
dicts (camelCase keys, ``__typename`` for abstract types), fields with arguments are
callables ``(info, **args)``. Anything the devstore does not implement resolves to null, so
a non-null field reports an error instead of inventing data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_named_type,
    is_composite_type,
    parse,
    validate,
    value_from_ast_untyped,
)

from devstore.identifiers import gid_parse
from devstore.models import (
    DevCustomer,
    DevDiscountCode,
    DevMetafield,
    DevOrder,
    DevProduct,
    DevRefund,
    DevShop,
    DevStoreCreditTransaction,
    DevVariant,
)
from devstore.payloads import money
from devstore.services import discount_code_status
from devstore.throttle import MAX_QUERY_COST, throttle_spend
from devstore.webhooks import webhook_outbox

APP_ID = 7_000_001  # the simulated app's id, used to resolve the "$app" namespace
Resolver = Callable[..., Any]


def _schema() -> GraphQLSchema:
    from merchants.shopify.admin_schema import admin_schema

    return admin_schema()


@lru_cache(maxsize=256)
def _document(query: str) -> tuple[DocumentNode | None, tuple[dict[str, Any], ...]]:
    """Parse and validate once per distinct document text."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (exc.formatted,)
    errors = validate(_schema(), document)
    return (None, tuple(e.formatted for e in errors)) if errors else (document, ())


# --- cost ------------------------------------------------------------------------------


def query_cost(document: DocumentNode, operation: OperationDefinitionNode, variables: dict) -> int:
    """A simple estimate in the platform's spirit: 1 per object, connections multiply
    their children by ``first``/``last`` (+2), 10 per mutation field."""
    schema = _schema()
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    if operation.operation == OperationType.MUTATION:
        return 10 * len(operation.selection_set.selections)
    root = schema.query_type

    def selections_cost(selection_set, parent) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                fields = getattr(parent, "fields", {})
                name = selection.name.value
                if name.startswith("__") or name not in fields:
                    continue
                named = get_named_type(fields[name].type)
                if not is_composite_type(named):
                    continue
                child = selections_cost(selection.selection_set, named)
                size = None
                for argument in selection.arguments:
                    if argument.name.value in {"first", "last"}:
                        size = value_from_ast_untyped(argument.value, variables)
                if isinstance(size, int):
                    total += 2 + size * max(child, 1)
                else:
                    total += 1 + child
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = schema.get_type(selection.type_condition.name.value)
                total += selections_cost(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    target = schema.get_type(fragment.type_condition.name.value)
                    total += selections_cost(fragment.selection_set, target)
        return total

    return max(1, selections_cost(operation.selection_set, root))


# --- value helpers ---------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _money_v2(amount: Decimal | str, currency: str) -> dict[str, str]:
    return {"amount": money(Decimal(amount)), "currencyCode": currency}


def _bag_from_rest(money_set: dict | None) -> dict | None:
    if money_set is None:
        return None
    shop_money = money_set["shop_money"]
    presentment = money_set["presentment_money"]
    return {
        "shopMoney": _money_v2(shop_money["amount"], shop_money["currency_code"]),
        "presentmentMoney": _money_v2(presentment["amount"], presentment["currency_code"]),
    }


def _bag(amount: Decimal, currency: str) -> dict:
    return {
        "shopMoney": _money_v2(amount, currency),
        "presentmentMoney": _money_v2(amount, currency),
    }


def _cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _cursor_parse(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise GraphQLError("Invalid cursor for current pagination sort.") from exc


def _connection(nodes: list[dict], cursors: list[str], *, has_next: bool, has_previous: bool):
    return {
        "nodes": nodes,
        "edges": [{"node": n, "cursor": c} for n, c in zip(nodes, cursors, strict=True)],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _list_connection(nodes: list[dict], first: int | None = None, after: str | None = None):
    start = int(_cursor_parse(after)[0]) + 1 if after else 0
    page = nodes[start:] if first is None else nodes[start : start + first]
    cursors = [_cursor([start + i]) for i in range(len(page))]
    return _connection(
        page, cursors, has_next=start + len(page) < len(nodes), has_previous=start > 0
    )


_SEARCH_TERM = re.compile(r"""(?P<field>\w+):(?P<op><=|>=|<|>)?(?P<value>'[^']*'|"[^"]*"|\S+)""")
_SORT_FIELDS = {
    "ID": "id",
    "UPDATED_AT": "updated_at",
    "CREATED_AT": "created_at",
    "PROCESSED_AT": "processed_at",
}
_OPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte", None: "exact"}


def _search(qs: QuerySet, query: str | None, fields: dict[str, str]) -> QuerySet:
    """Apply the search syntax subset ``field:[op]value`` (AND-ed) to ``qs``."""
    for match in _SEARCH_TERM.finditer(query or ""):
        name, op, raw = match.group("field"), match.group("op"), match.group("value")
        column = fields.get(name.lower())
        if column is None:
            continue
        value: Any = raw.strip("'\"")
        if column.endswith("_at"):
            parsed = parse_datetime(value)
            if parsed is None:
                continue
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed, UTC)
            value = parsed
        elif column in {"id", "customer_id"}:
            if not value.isdigit():
                continue
            value = int(value)
        elif column == "tags":
            qs = qs.filter(tags__contains=value) if op is None else qs
            continue
        elif column.startswith("email"):
            qs = qs.filter(email__iexact=value)
            continue
        qs = qs.filter(**{f"{column}__{_OPS[op]}": value})
    return qs


def _paginate(
    qs: QuerySet,
    node: Callable[[Any], dict],
    *,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
    sort_key: str | None,
    reverse: bool | None,
) -> dict:
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    if (first or last or 0) > 250:
        raise GraphQLError("The maximum number of items per page is 250.")
    column = _SORT_FIELDS.get(sort_key or "ID", "id")
    descending = bool(reverse)

    def key_of(obj) -> list[Any]:
        value = getattr(obj, column)
        return [value.isoformat() if isinstance(value, datetime) else value, obj.id]

    def after_filter(values: list[Any], forward: bool) -> Q:
        raw, pk = values
        value = parse_datetime(raw) if column != "id" else raw
        op = "gt" if forward != descending else "lt"
        if column == "id":
            return Q(**{f"id__{op}": pk})
        return Q(**{f"{column}__{op}": value}) | Q(**{column: value, f"id__{op}": pk})

    order = [f"-{column}", "-id"] if descending else [column, "id"]
    if column == "id":
        order = order[-1:]
    qs = qs.order_by(*order)
    if after:
        qs = qs.filter(after_filter(_cursor_parse(after), True))
    if before:
        qs = qs.filter(after_filter(_cursor_parse(before), False))
    if last is not None and first is None:
        rows = list(qs.reverse()[: last + 1])
        has_more = len(rows) > last
        rows = list(reversed(rows[:last]))
        return _connection(
            [node(r) for r in rows],
            [_cursor(key_of(r)) for r in rows],
            has_next=bool(before),
            has_previous=has_more,
        )
    rows = list(qs[: first + 1])
    has_more = len(rows) > first
    rows = rows[:first]
    return _connection(
        [node(r) for r in rows],
        [_cursor(key_of(r)) for r in rows],
        has_next=has_more,
        has_previous=bool(after),
    )


# --- the graph -------------------------------------------------------------------------


class ShopGraph:
    """Resolvers for one request against one shop."""

    def __init__(self, shop: DevShop) -> None:
        self.shop = shop
        self.currency = shop.currency
        self._variants: dict[int, DevVariant | None] = {}

    # namespaces ---------------------------------------------------------------------
    @staticmethod
    def namespace_resolve(namespace: str | None) -> str:
        namespace = namespace or "$app"
        if namespace == "$app":
            return f"app--{APP_ID}"
        if namespace.startswith("$app:"):
            return f"app--{APP_ID}--{namespace[5:]}"
        return namespace

    # nodes --------------------------------------------------------------------------
    def metafield_node(self, metafield: DevMetafield) -> dict:
        value: Any = metafield.value
        try:
            json_value = json.loads(value)
        except ValueError:
            json_value = value
        return {
            "__typename": "Metafield",
            "id": f"gid://shopify/Metafield/{metafield.id}",
            "legacyResourceId": str(metafield.id),
            "namespace": metafield.namespace,
            "key": metafield.key,
            "type": metafield.type,
            "value": metafield.value,
            "jsonValue": json_value,
            "compareDigest": hashlib.sha256(metafield.value.encode()).hexdigest(),
            "createdAt": _iso(metafield.created_at),
            "updatedAt": _iso(metafield.updated_at),
            "ownerType": (gid_parse(metafield.owner_gid) or ("SHOP", 0))[0].upper(),
        }

    def _metafield_fields(self, owner_gid: str) -> dict[str, Resolver]:
        def metafield(info, key: str, namespace: str | None = None):
            row = DevMetafield.objects.filter(
                shop=self.shop,
                owner_gid=owner_gid,
                namespace=self.namespace_resolve(namespace),
                key=key,
            ).first()
            return self.metafield_node(row) if row else None

        def metafields(info, first=None, namespace=None, keys=None, after=None, **_):
            qs = DevMetafield.objects.filter(shop=self.shop, owner_gid=owner_gid).order_by("id")
            if namespace is not None:
                qs = qs.filter(namespace=self.namespace_resolve(namespace))
            nodes = [self.metafield_node(m) for m in qs]
            if keys:
                nodes = [n for n in nodes if f"{n['namespace']}.{n['key']}" in keys]
            return _list_connection(nodes, first, after)

        return {"metafield": metafield, "metafields": metafields}

    def shop_node(self) -> dict:
        shop = self.shop
        return {
            "__typename": "Shop",
            "id": shop.gid,
            "name": shop.name,
            "email": shop.email,
            "contactEmail": shop.email,
            "currencyCode": shop.currency,
            "ianaTimezone": shop.iana_timezone,
            "myshopifyDomain": shop.domain,
            "createdAt": _iso(shop.created_at),
            "updatedAt": _iso(shop.created_at),
            "plan": {
                "displayName": shop.plan,
                "publicDisplayName": shop.plan,
                "partnerDevelopment": shop.plan.lower() == "development",
                "shopifyPlus": "plus" in shop.plan.lower(),
            },
            **self._metafield_fields(shop.gid),
        }

    def customer_node(self, customer: DevCustomer) -> dict:
        currency = self.currency

        def store_credit_accounts(info, first=None, after=None, query=None, **_):
            # One account, in the shop's currency, once credited (``currency_code:`` filters).
            has_account = customer.store_credit or customer.store_credit_transactions.exists()
            wanted = {
                m.group("value").strip("'\"").upper()
                for m in _SEARCH_TERM.finditer(query or "")
                if m.group("field").lower() == "currency_code"
            }
            if wanted and self.currency.upper() not in wanted:
                has_account = False
            nodes = [self.store_credit_account_node(customer)] if has_account else []
            return _list_connection(nodes, first, after)

        orders = DevOrder.objects.filter(customer=customer)
        return {
            "__typename": "Customer",
            "id": customer.gid,
            "legacyResourceId": str(customer.id),
            "email": customer.email or None,
            "defaultEmailAddress": {"emailAddress": customer.email, "marketingOptInLevel": None}
            if customer.email
            else None,
            "firstName": customer.first_name or None,
            "lastName": customer.last_name or None,
            "displayName": customer.display_name,
            "note": customer.note or None,
            "state": customer.state.upper(),
            "tags": list(customer.tags),
            "verifiedEmail": True,
            "createdAt": _iso(customer.created_at),
            "updatedAt": _iso(customer.updated_at),
            "numberOfOrders": lambda info: str(orders.count()),
            "amountSpent": lambda info: _money_v2(
                sum(
                    (Decimal(o.payload["current_total_price"]) for o in orders.only("payload")),
                    Decimal("0"),
                ),
                currency,
            ),
            "storeCreditAccounts": store_credit_accounts,
            **self._metafield_fields(customer.gid),
        }

    def store_credit_account_node(self, customer: DevCustomer) -> dict:
        def transactions(
            info,
            first=None,
            last=None,
            after=None,
            before=None,
            reverse=None,
            sortKey=None,
            query=None,
            **_,
        ):
            if sortKey not in (None, "CREATED_AT"):
                raise GraphQLError(f"devstore: sortKey {sortKey} is not simulated")
            qs = customer.store_credit_transactions.all()
            # Every simulated transaction is a credit: a ``type:`` filter without ``credit``
            # matches none (unknown values are ignored, as the platform documents).
            types = {
                m.group("value").strip("'\"").lower()
                for m in _SEARCH_TERM.finditer(query or "")
                if m.group("field").lower() == "type"
            } & {"credit", "debit", "debit_revert", "expiration"}
            if types and "credit" not in types:
                qs = qs.none()
            qs = _search(qs, query, {"id": "id", "expires_at": "expires_at"})
            return _paginate(
                qs,
                lambda row: self.store_credit_transaction_node(row, customer),
                first=first,
                last=last,
                after=after,
                before=before,
                sort_key="CREATED_AT",
                reverse=reverse,
            )

        return {
            "__typename": "StoreCreditAccount",
            "id": f"gid://shopify/StoreCreditAccount/{customer.id}",
            "balance": _money_v2(customer.store_credit, self.currency),
            "owner": lambda info: self.customer_node(customer),
            "transactions": transactions,
        }

    def store_credit_transaction_node(self, row: DevStoreCreditTransaction, customer) -> dict:
        """A credit as ``StoreCreditAccountCreditTransaction`` (the devstore makes credits only,
        through the API: event ``ADJUSTMENT``, no origin)."""
        return {
            "__typename": "StoreCreditAccountCreditTransaction",
            "id": f"gid://shopify/StoreCreditAccountCreditTransaction/{row.id}",
            "amount": _money_v2(row.amount, row.currency),
            "balanceAfterTransaction": _money_v2(row.balance_after, row.currency),
            "remainingAmount": _money_v2(row.amount, row.currency),
            "createdAt": _iso(row.created_at),
            "expiresAt": _iso(row.expires_at),
            "event": "ADJUSTMENT",
            "origin": None,
            "account": lambda info: self.store_credit_account_node(customer),
        }

    def _variant(self, variant_id: int | None) -> DevVariant | None:
        if variant_id is None:
            return None
        if variant_id not in self._variants:
            self._variants[variant_id] = (
                DevVariant.objects.select_related("product")
                .filter(id=variant_id, product__shop=self.shop)
                .first()
            )
        return self._variants[variant_id]

    def product_node(self, product: DevProduct) -> dict:
        return {
            "__typename": "Product",
            "id": product.gid,
            "legacyResourceId": str(product.id),
            "title": product.title,
            "isGiftCard": product.gift_card,
            "tags": list(product.tags),
        }

    def variant_node(self, variant: DevVariant) -> dict:
        return {
            "__typename": "ProductVariant",
            "id": variant.gid,
            "legacyResourceId": str(variant.id),
            "title": variant.title,
            "price": money(variant.price),
            "sku": variant.sku or None,
            "product": self.product_node(variant.product),
        }

    def discount_application_node(self, application: dict, index: int) -> dict:
        """A REST ``discount_applications`` entry as the ``DiscountApplication`` interface."""
        if application.get("value_type") == "percentage":
            value: dict[str, Any] = {
                "__typename": "PricingPercentageValue",
                "percentage": float(application["value"]),
            }
        else:
            value = {"__typename": "MoneyV2", **_money_v2(application["value"], self.currency)}
        typename = {
            "discount_code": "DiscountCodeApplication",
            "manual": "ManualDiscountApplication",
            "script": "ScriptDiscountApplication",
        }.get(application.get("type", ""), "AutomaticDiscountApplication")
        node = {
            "__typename": typename,
            "index": index,
            "allocationMethod": application["allocation_method"].upper(),
            "targetSelection": application["target_selection"].upper(),
            "targetType": application["target_type"].upper(),
            "value": value,
            "title": application.get("title") or application.get("code"),
            "description": application.get("description"),
        }
        if typename == "DiscountCodeApplication":
            node["code"] = application["code"]
        return node

    def _allocations(self, allocations: list[dict], applications: list[dict]) -> list[dict]:
        out = []
        for allocation in allocations:
            index = allocation.get("discount_application_index")
            application = (
                applications[index]
                if isinstance(index, int) and 0 <= index < len(applications)
                else None
            )
            out.append(
                {
                    "allocatedAmountSet": _bag_from_rest(allocation["amount_set"]),
                    "discountApplication": self.discount_application_node(application, index)
                    if application is not None
                    else None,
                }
            )
        return out

    def shipping_line_node(self, line: dict, applications: list[dict]) -> dict:
        return {
            "__typename": "ShippingLine",
            "id": f"gid://shopify/ShippingLine/{line['id']}",
            "title": line["title"],
            "code": line.get("code"),
            "source": line.get("source"),
            "carrierIdentifier": line.get("carrier_identifier"),
            "phone": line.get("phone"),
            "custom": False,
            "isRemoved": bool(line.get("is_removed")),
            "originalPriceSet": _bag_from_rest(line["price_set"]),
            "discountedPriceSet": _bag_from_rest(line["discounted_price_set"]),
            "currentDiscountedPriceSet": _bag_from_rest(line["current_discounted_price_set"]),
            "taxLines": [],
            "discountAllocations": self._allocations(
                line.get("discount_allocations") or [], applications
            ),
        }

    def line_item_node(
        self, item: dict, refunded_quantity: int = 0, applications: list[dict] | None = None
    ) -> dict:
        currency = self.currency
        variant = self._variant(item.get("variant_id"))
        price = Decimal(item["price"])
        discount = sum((Decimal(a["amount"]) for a in item["discount_allocations"]), Decimal(0))
        total = price * item["quantity"]
        return {
            "__typename": "LineItem",
            "id": item["admin_graphql_api_id"],
            "name": item["name"],
            "title": item["title"],
            "sku": item.get("sku"),
            "quantity": item["quantity"],
            "currentQuantity": item.get("current_quantity", item["quantity"]),
            "isGiftCard": item["gift_card"],
            "requiresShipping": item["requires_shipping"],
            "variant": self.variant_node(variant) if variant else None,
            "product": self.product_node(variant.product) if variant else None,
            "originalUnitPriceSet": _bag(price, currency),
            "originalTotalSet": _bag(total, currency),
            "discountedTotalSet": _bag(total - discount, currency),
            "discountedUnitPriceSet": _bag((total - discount) / item["quantity"], currency),
            "totalDiscountSet": _bag(discount, currency),
            "taxLines": [
                {
                    "title": t["title"],
                    "rate": t["rate"],
                    "ratePercentage": t["rate"] * 100,
                    "priceSet": _bag_from_rest(t["price_set"]),
                    "channelLiable": t.get("channel_liable", False),
                }
                for t in item["tax_lines"]
            ],
            "discountAllocations": self._allocations(
                item["discount_allocations"], applications or []
            ),
        }

    def refund_node(
        self, refund: dict, line_items: dict[int, dict], applications: list[dict] | None = None
    ) -> dict:
        currency = self.currency
        total = sum((Decimal(t["amount"]) for t in refund["transactions"]), Decimal(0))

        def refund_line_items(info, first=None, after=None, **_):
            nodes = [
                {
                    "id": f"gid://shopify/RefundLineItem/{r['id']}",
                    "quantity": r["quantity"],
                    "lineItem": self.line_item_node(
                        line_items[r["line_item_id"]], applications=applications
                    ),
                    "subtotalSet": _bag_from_rest(r["subtotal_set"]),
                    "totalTaxSet": _bag_from_rest(r["total_tax_set"]),
                    "restocked": False,
                }
                for r in refund["refund_line_items"]
            ]
            return _list_connection(nodes, first, after)

        return {
            "__typename": "Refund",
            "id": refund["admin_graphql_api_id"],
            "legacyResourceId": str(refund["id"]),
            "note": refund.get("note"),
            "createdAt": _iso(parse_datetime(refund["created_at"])),
            "processedAt": _iso(parse_datetime(refund["processed_at"])),
            "updatedAt": _iso(parse_datetime(refund["processed_at"])),
            "totalRefundedSet": _bag(total, currency),
            "refundLineItems": refund_line_items,
        }

    def order_node(self, order: DevOrder) -> dict:
        payload = order.payload
        currency = self.currency
        line_items = {item["id"]: item for item in payload["line_items"]}
        refunds = payload.get("refunds", [])
        refunded_total = sum(
            (Decimal(t["amount"]) for r in refunds for t in r["transactions"]), Decimal(0)
        )
        refunded_shipping = sum(
            (
                -Decimal(a["amount"])
                for r in refunds
                for a in r["order_adjustments"]
                if a["kind"] == "shipping_refund"
            ),
            Decimal(0),
        )

        applications = payload.get("discount_applications") or []

        def line_items_connection(info, first=None, after=None, **_):
            nodes = [
                self.line_item_node(item, applications=applications)
                for item in payload["line_items"]
            ]
            return _list_connection(nodes, first, after)

        def refunds_list(info, first=None):
            nodes = [self.refund_node(r, line_items, applications) for r in refunds]
            return nodes if first is None else nodes[:first]

        def discount_applications(info, first=None, after=None, **_):
            nodes = [self.discount_application_node(a, i) for i, a in enumerate(applications)]
            return _list_connection(nodes, first, after)

        def shipping_lines(info, first=None, after=None, includeRemovals=False, **_):
            nodes = [
                self.shipping_line_node(line, applications)
                for line in payload.get("shipping_lines") or []
                if includeRemovals or not line.get("is_removed")
            ]
            return _list_connection(nodes, first, after)

        codes = [c["code"] for c in payload["discount_codes"]]
        return {
            "__typename": "Order",
            "id": order.gid,
            "legacyResourceId": str(order.id),
            "name": payload["name"],
            "email": payload.get("email"),
            "phone": None,
            "note": payload.get("note"),
            "createdAt": _iso(order.created_at),
            "updatedAt": _iso(order.updated_at),
            "processedAt": _iso(order.processed_at),
            "cancelledAt": _iso(order.cancelled_at),
            "cancelReason": (payload.get("cancel_reason") or "").upper() or None,
            "closed": False,
            "confirmed": True,
            "displayFinancialStatus": order.financial_status.upper(),
            "displayFulfillmentStatus": "FULFILLED"
            if order.fulfillment_status == "fulfilled"
            else "UNFULFILLED",
            "currencyCode": currency,
            "presentmentCurrencyCode": currency,
            "customer": lambda info: (
                self.customer_node(order.customer) if order.customer_id and order.customer else None
            ),
            "subtotalPriceSet": _bag_from_rest(payload["subtotal_price_set"]),
            "currentSubtotalPriceSet": _bag_from_rest(payload["current_subtotal_price_set"]),
            "totalPriceSet": _bag_from_rest(payload["total_price_set"]),
            "currentTotalPriceSet": _bag_from_rest(payload["current_total_price_set"]),
            "totalTaxSet": _bag_from_rest(payload["total_tax_set"]),
            "currentTotalTaxSet": _bag_from_rest(payload["current_total_tax_set"]),
            "totalShippingPriceSet": _bag_from_rest(payload["total_shipping_price_set"]),
            "totalDiscountsSet": _bag_from_rest(payload["total_discounts_set"]),
            "currentTotalDiscountsSet": _bag_from_rest(payload["current_total_discounts_set"]),
            "totalRefundedSet": _bag(refunded_total, currency),
            "totalRefundedShippingSet": _bag(refunded_shipping, currency),
            "discountCodes": codes,
            "discountCode": codes[0] if codes else None,
            "tags": [t.strip() for t in payload.get("tags", "").split(",") if t.strip()],
            "test": bool(payload.get("test")),
            "requiresShipping": any(i["requires_shipping"] for i in payload["line_items"]),
            "taxLines": [],
            "lineItems": line_items_connection,
            "refunds": refunds_list,
            "discountApplications": discount_applications,
            "shippingLines": shipping_lines,
            **self._metafield_fields(order.gid),
        }

    def discount_node(self, code: DevDiscountCode) -> dict:
        currency = self.currency
        if code.customer_ids:
            customers = DevCustomer.objects.filter(shop=self.shop, id__in=code.customer_ids)
            context = {
                "__typename": "DiscountCustomers",
                "customers": lambda info: [self.customer_node(c) for c in customers],
            }
        else:
            context = {"__typename": "DiscountBuyerSelectionAll", "all": "ALL"}
        if code.value_type == DevDiscountCode.ValueType.PERCENTAGE:
            value = {"__typename": "DiscountPercentage", "percentage": float(code.value)}
        else:
            value = {
                "__typename": "DiscountAmount",
                "amount": _money_v2(code.value, currency),
                "appliesOnEachItem": code.applies_on_each_item,
            }
        if code.entitled_variant_ids or code.entitled_product_ids:
            variants = DevVariant.objects.filter(
                product__shop=self.shop, id__in=code.entitled_variant_ids
            ).select_related("product")
            products = DevProduct.objects.filter(shop=self.shop, id__in=code.entitled_product_ids)
            items = {
                "__typename": "DiscountProducts",
                "productVariants": lambda info, first=None, after=None, **_: _list_connection(
                    [self.variant_node(v) for v in variants], first, after
                ),
                "products": lambda info, first=None, after=None, **_: _list_connection(
                    [self.product_node(p) for p in products], first, after
                ),
            }
        else:
            items = {"__typename": "AllDiscountItems", "allItems": True}
        minimum = None
        if code.minimum_subtotal is not None:
            minimum = {
                "__typename": "DiscountMinimumSubtotal",
                "greaterThanOrEqualToSubtotal": _money_v2(code.minimum_subtotal, currency),
            }
        redeem = {
            "id": f"gid://shopify/DiscountRedeemCode/{code.id}",
            "code": code.code,
            "asyncUsageCount": code.usage_count,
        }
        summary = code.title
        discount: dict[str, Any] = {
            "__typename": "DiscountCodeFreeShipping"
            if code.kind == DevDiscountCode.Kind.FREE_SHIPPING
            else "DiscountCodeBasic",
            "title": code.title,
            "status": discount_code_status(code),
            "summary": summary,
            "shortSummary": summary,
            "asyncUsageCount": code.usage_count,
            "usageLimit": code.usage_limit,
            "appliesOncePerCustomer": code.applies_once_per_customer,
            "appliesOnOneTimePurchase": True,
            "appliesOnSubscription": False,
            "startsAt": _iso(code.starts_at),
            "endsAt": _iso(code.ends_at),
            "createdAt": _iso(code.created_at),
            "updatedAt": _iso(code.updated_at),
            "tags": list(code.tags),
            "hasTimelineComment": False,
            "recurringCycleLimit": None,
            "discountClasses": ["SHIPPING"]
            if code.kind == DevDiscountCode.Kind.FREE_SHIPPING
            else (["PRODUCT"] if items["__typename"] == "DiscountProducts" else ["ORDER"]),
            "combinesWith": {
                "orderDiscounts": bool(code.combines_with.get("orderDiscounts")),
                "productDiscounts": bool(code.combines_with.get("productDiscounts")),
                "shippingDiscounts": bool(code.combines_with.get("shippingDiscounts")),
            },
            "context": context,
            "customerGets": {
                "value": value,
                "items": items,
                "appliesOnOneTimePurchase": True,
                "appliesOnSubscription": False,
            },
            "minimumRequirement": minimum,
            "codes": lambda info, first=None, after=None, **_: _list_connection(
                [redeem], first, after
            ),
            "codesCount": {"count": 1, "precision": "EXACT"},
            "maximumShippingPrice": _money_v2(code.maximum_shipping_price, currency)
            if code.maximum_shipping_price is not None
            else None,
            "destinationSelection": {"__typename": "DiscountCountryAll", "allCountries": True},
            "shareableUrls": [],
        }
        return {"__typename": "DiscountCodeNode", "id": code.gid, "codeDiscount": discount}

    # lookups ------------------------------------------------------------------------
    def node_by_gid(self, gid: str) -> dict | None:
        parsed = gid_parse(gid)
        if parsed is None:
            return None
        kind, pk = parsed
        if kind == "Customer":
            row = DevCustomer.objects.filter(shop=self.shop, id=pk).first()
            return self.customer_node(row) if row else None
        if kind == "Order":
            row = DevOrder.objects.filter(shop=self.shop, id=pk).select_related("customer").first()
            return self.order_node(row) if row else None
        if kind == "DiscountCodeNode":
            row = DevDiscountCode.objects.filter(
                shop=self.shop, id=pk, deleted_at__isnull=True
            ).first()
            return self.discount_node(row) if row else None
        if kind == "Product":
            row = DevProduct.objects.filter(shop=self.shop, id=pk).first()
            return self.product_node(row) if row else None
        if kind == "Refund":
            refund = (
                DevRefund.objects.filter(order__shop=self.shop, id=pk)
                .select_related("order")
                .first()
            )
            if refund is None:
                return None
            payload = refund.order.payload
            line_items = {item["id"]: item for item in payload["line_items"]}
            return self.refund_node(
                refund.payload, line_items, payload.get("discount_applications") or []
            )
        if kind == "ProductVariant":
            variant = self._variant(pk)
            return self.variant_node(variant) if variant else None
        if kind == "Shop" and pk == self.shop.shop_id:
            return self.shop_node()
        return None

    # roots --------------------------------------------------------------------------
    def query_root(self) -> dict[str, Any]:
        shop = self.shop

        def customers(info, first=None, last=None, after=None, before=None, **kw):
            qs = _search(
                DevCustomer.objects.filter(shop=shop),
                kw.get("query"),
                {
                    "updated_at": "updated_at",
                    "created_at": "created_at",
                    "email": "email",
                    "id": "id",
                    "tag": "tags",
                },
            )
            return _paginate(
                qs,
                self.customer_node,
                first=first,
                last=last,
                after=after,
                before=before,
                sort_key=kw.get("sortKey"),
                reverse=kw.get("reverse"),
            )

        def orders(info, first=None, last=None, after=None, before=None, **kw):
            qs = _search(
                DevOrder.objects.filter(shop=shop).select_related("customer"),
                kw.get("query"),
                {
                    "updated_at": "updated_at",
                    "created_at": "created_at",
                    "processed_at": "processed_at",
                    "id": "id",
                    "customer_id": "customer_id",
                    "email": "email",
                    "financial_status": "financial_status",
                },
            )
            return _paginate(
                qs,
                self.order_node,
                first=first,
                last=last,
                after=after,
                before=before,
                sort_key=kw.get("sortKey"),
                reverse=kw.get("reverse"),
            )

        def code_discount_node_by_code(info, code: str):
            row = DevDiscountCode.objects.filter(
                shop=shop, code_key=code.strip().upper(), deleted_at__isnull=True
            ).first()
            return self.discount_node(row) if row else None

        return {
            "shop": lambda info: self.shop_node(),
            "customer": lambda info, id: (
                self.node_by_gid(id) if (gid_parse(id) or ("",))[0] == "Customer" else None
            ),
            "order": lambda info, id: (
                self.node_by_gid(id) if (gid_parse(id) or ("",))[0] == "Order" else None
            ),
            "customers": customers,
            "orders": orders,
            "codeDiscountNodeByCode": code_discount_node_by_code,
            "codeDiscountNode": lambda info, id: (
                self.node_by_gid(id) if (gid_parse(id) or ("",))[0] == "DiscountCodeNode" else None
            ),
            "node": lambda info, id: self.node_by_gid(id),
            "nodes": lambda info, ids: [self.node_by_gid(i) for i in ids],
        }

    def mutation_root(self) -> dict[str, Any]:
        from devstore.graphql_mutations import Mutations

        return Mutations(self).root()


# --- request entry point ---------------------------------------------------------------


def graphql_request(shop: DevShop, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Answer one Admin GraphQL request: ``(status, json body, extra headers)``."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return 400, {"errors": {"query": "Required parameter missing or invalid"}}, {}
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return 400, {"errors": {"variables": "Variables must be an object"}}, {}
    document, errors = _document(body["query"])
    if document is None:
        return 200, {"errors": list(errors)}, {}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = body.get("operationName")
    chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
    if len(chosen) != 1:
        message = (
            f'No operation named "{name}"'
            if name
            else "An operation name is required when the document has several operations"
        )
        return 200, {"errors": [{"message": message}]}, {}
    operation = chosen[0]
    cost = query_cost(document, operation, variables)
    if cost > MAX_QUERY_COST:
        return (
            200,
            {
                "errors": [
                    {
                        "message": f"Query cost is {cost}, which exceeds the single query max "
                        f"cost limit ({MAX_QUERY_COST}).",
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost},
                    }
                ]
            },
            {},
        )
    outcome = throttle_spend(shop, cost)
    if not outcome.allowed:
        answer = {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": {"cost": outcome.cost_extension(actual=None)},
        }
        if shop.throttle_http_429 or getattr(settings, "DEVSTORE_THROTTLE_HTTP_429", False):
            return 429, answer, {"Retry-After": str(outcome.retry_after)}
        return 200, answer, {}
    graph = ShopGraph(shop)
    if operation.operation == OperationType.MUTATION:
        with webhook_outbox(), transaction.atomic():
            result = execute(
                _schema(),
                document,
                root_value=graph.mutation_root(),
                variable_values=variables,
                operation_name=name,
            )
    else:
        result = execute(
            _schema(),
            document,
            root_value=graph.query_root(),
            variable_values=variables,
            operation_name=name,
        )
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    answer["data"] = result.data
    answer["extensions"] = {"cost": outcome.cost_extension(actual=cost)}
    return 200, answer, {}


__all__ = ["APP_ID", "ShopGraph", "graphql_request", "query_cost"]
