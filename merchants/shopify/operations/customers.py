"""Customers: the loyalty metafields mirrored onto them, and their tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from merchants.shopify.client import AdminClient
from merchants.shopify.operations.arguments import admin_client

if TYPE_CHECKING:
    from merchants.models import Shop


LOYALTY_METAFIELD_NAMESPACE = "$app:loyalty"


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
    api = admin_client(shop, client)
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
        admin_client(shop, client).mutate(
            CUSTOMER_TAGS_ADD_DOCUMENT, {"id": gid, "tags": list(tags)}, root="tagsAdd"
        )


def customer_tags_remove(
    shop: Shop, *, gid: str, tags: list[str], client: AdminClient | None = None
) -> None:
    """Remove tags from a customer (absent tags are ignored)."""
    if tags:
        admin_client(shop, client).mutate(
            CUSTOMER_TAGS_REMOVE_DOCUMENT, {"id": gid, "tags": list(tags)}, root="tagsRemove"
        )
