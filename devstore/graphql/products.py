"""Products and their variants."""

from __future__ import annotations

from devstore.models import DevProduct, DevShop, DevVariant
from devstore.payloads import money


class ProductNodes:
    """Product and variant resolvers of ``ShopGraph``."""

    shop: DevShop
    variants: dict[int, DevVariant | None]

    def variant(self, variant_id: int | None) -> DevVariant | None:
        if variant_id is None:
            return None
        if variant_id not in self.variants:
            self.variants[variant_id] = (
                DevVariant.objects.select_related("product")
                .filter(id=variant_id, product__shop=self.shop)
                .first()
            )
        return self.variants[variant_id]

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
