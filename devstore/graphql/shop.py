"""The shop node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devstore.graphql.values import iso
from devstore.models import DevShop

if TYPE_CHECKING:
    from collections.abc import Callable

    from devstore.graphql.metafields import Resolver


class ShopNodes:
    """The ``Shop`` resolver of ``ShopGraph``."""

    shop: DevShop
    # resolvers of the other ``ShopGraph`` mixins
    metafield_fields: Callable[[str], dict[str, Resolver]]

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
            "taxesIncluded": shop.taxes_included,
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
