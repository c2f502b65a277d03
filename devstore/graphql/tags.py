"""Tags of customers, orders and products: add and remove."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from devstore.identifiers import gid_parse
from devstore.models import DevCustomer, DevOrder, DevProduct, DevShop
from devstore.payloads import customer_payload
from devstore.webhooks import webhook_emit

if TYPE_CHECKING:
    from devstore.graphql.graph import ShopGraph


TAG_MAX_LENGTH = 255  # the platform's limit of one tag


class TagMutations:
    """``tagsAdd`` and ``tagsRemove`` of ``Mutations``."""

    shop: DevShop
    graph: ShopGraph

    def tags_change(self, gid: str, tags: list[str], *, add: bool) -> dict:
        parsed = gid_parse(gid)
        tags = [t.strip() for tag in tags for t in tag.split(",") if t.strip()]
        not_found = {
            "node": None,
            "userErrors": [{"field": ["id"], "message": "Resource not found"}],
        }
        if parsed is None:
            return not_found
        too_long = [t for t in tags if len(t) > TAG_MAX_LENGTH]
        if add and too_long:
            message = f"A tag has at most {TAG_MAX_LENGTH} characters."
            return {"node": None, "userErrors": [{"field": ["tags"], "message": message}]}
        kind, pk = parsed
        now = timezone.now()
        if kind == "Customer":
            customer = DevCustomer.objects.select_for_update().filter(shop=self.shop, id=pk).first()
            if customer is None:
                return not_found
            current = list(customer.tags)
            changed = _tags_apply(current, tags, add=add)
            if changed != current:
                customer.tags, customer.updated_at = changed, now
                customer.save(update_fields=["tags", "updated_at"])
                webhook_emit(self.shop, "customers/update", customer_payload(customer))
            return {"node": self.graph.customer_node(customer), "userErrors": []}
        if kind == "Order":
            order = DevOrder.objects.select_for_update().filter(shop=self.shop, id=pk).first()
            if order is None:
                return not_found
            current = [t.strip() for t in order.payload.get("tags", "").split(",") if t.strip()]
            changed = _tags_apply(current, tags, add=add)
            if changed != current:
                order.payload["tags"] = ", ".join(changed)
                order.updated_at = now
                order.save(update_fields=["payload", "updated_at"])
            return {"node": self.graph.order_node(order), "userErrors": []}
        if kind == "Product":
            product = DevProduct.objects.filter(shop=self.shop, id=pk).first()
            if product is None:
                return not_found
            product.tags = _tags_apply(list(product.tags), tags, add=add)
            product.save(update_fields=["tags"])
            return {"node": self.graph.product_node(product), "userErrors": []}
        return not_found


def _tags_apply(current: list[str], tags: list[str], *, add: bool) -> list[str]:
    if add:
        out = list(current)
        for tag in tags:
            if tag.lower() not in {t.lower() for t in out}:
                out.append(tag)
        return sorted(out, key=str.lower)
    remove = {t.lower() for t in tags}
    return [t for t in current if t.lower() not in remove]
