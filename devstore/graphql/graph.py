"""The graph of one request against one shop: its query root and its mutation root."""

from __future__ import annotations

from typing import Any

from devstore.graphql.connections import paginate, search
from devstore.graphql.customers import CustomerNodes
from devstore.graphql.discounts import DiscountMutations, DiscountNodes
from devstore.graphql.metafields import MetafieldMutations, MetafieldNodes, app_installation_gid
from devstore.graphql.orders import OrderNodes
from devstore.graphql.products import ProductNodes
from devstore.graphql.shop import ShopNodes
from devstore.graphql.store_credit import StoreCreditMutations, StoreCreditNodes
from devstore.graphql.tags import TagMutations
from devstore.identifiers import gid_parse
from devstore.models import (
    DevCustomer,
    DevDiscountCode,
    DevOrder,
    DevProduct,
    DevRefund,
    DevShop,
    DevVariant,
)


class ShopGraph(
    MetafieldNodes,
    ShopNodes,
    CustomerNodes,
    StoreCreditNodes,
    ProductNodes,
    OrderNodes,
    DiscountNodes,
):
    """Resolvers for one request against one shop."""

    def __init__(self, shop: DevShop) -> None:
        self.shop = shop
        self.currency = shop.currency
        self.variants: dict[int, DevVariant | None] = {}

    # lookups ------------------------------------------------------------------------
    def node_by_gid(self, gid: str) -> dict | None:
        parsed = gid_parse(gid)
        if parsed is None:
            return None
        kind, pk = parsed
        if kind == "Customer":
            customer = DevCustomer.objects.filter(shop=self.shop, id=pk).first()
            return self.customer_node(customer) if customer else None
        if kind == "Order":
            order = (
                DevOrder.objects.filter(shop=self.shop, id=pk).select_related("customer").first()
            )
            return self.order_node(order) if order else None
        if kind == "DiscountCodeNode":
            code = DevDiscountCode.objects.filter(
                shop=self.shop, id=pk, deleted_at__isnull=True
            ).first()
            return self.discount_node(code) if code else None
        if kind == "Product":
            product = DevProduct.objects.filter(shop=self.shop, id=pk).first()
            return self.product_node(product) if product else None
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
            variant = self.variant(pk)
            return self.variant_node(variant) if variant else None
        if kind == "Shop" and pk == self.shop.shop_id:
            return self.shop_node()
        return None

    # roots --------------------------------------------------------------------------
    def query_root(self) -> dict[str, Any]:
        shop = self.shop

        def customers(info, first=None, last=None, after=None, before=None, **kw):
            qs = search(
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
            return paginate(
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
            qs = search(
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
            return paginate(
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

        installation = app_installation_gid(shop)
        return {
            "shop": lambda info: self.shop_node(),
            "currentAppInstallation": lambda info: {
                "id": installation,
                **self.metafield_fields(installation),
            },
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
        return Mutations(self).root()


class Mutations(DiscountMutations, StoreCreditMutations, MetafieldMutations, TagMutations):
    """Mutation resolvers, validating input the way the platform does and answering refusals
    as ``userErrors`` (never as top-level errors)."""

    def __init__(self, graph: ShopGraph) -> None:
        self.graph = graph
        self.shop = graph.shop

    def root(self) -> dict[str, Any]:
        return {
            "discountCodeBasicCreate": self.discount_code_basic_create,
            "discountCodeFreeShippingCreate": self.discount_code_free_shipping_create,
            "discountCodeDeactivate": self.discount_code_deactivate,
            "discountCodeDelete": self.discount_code_delete,
            "storeCreditAccountCredit": self.store_credit_account_credit,
            "metafieldsSet": self.metafields_set,
            "metafieldsDelete": self.metafields_delete,
            "tagsAdd": lambda info, id, tags: self.tags_change(id, tags, add=True),
            "tagsRemove": lambda info, id, tags: self.tags_change(id, tags, add=False),
        }
