"""The shop node."""

from __future__ import annotations

from devstore.graphql.values import iso
from devstore.models import DevShop


class ShopNodes:
    """The ``Shop`` resolver of ``ShopGraph``."""

    shop: DevShop

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
            "createdAt": iso(shop.created_at),
            "updatedAt": iso(shop.created_at),
            "plan": {
                "displayName": shop.plan,
                "publicDisplayName": shop.plan,
                "partnerDevelopment": shop.plan.lower() == "development",
                "shopifyPlus": "plus" in shop.plan.lower(),
            },
            **self.metafield_fields(shop.gid),
        }
