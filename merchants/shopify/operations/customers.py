"""Customers: the loyalty metafields mirrored onto them, and their tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from merchants.errors import ShopifyApiError, ShopifyUserError
from merchants.shopify.client import AdminClient
from merchants.shopify.operations.arguments import admin_client

if TYPE_CHECKING:
    from merchants.models import Shop


LOYALTY_METAFIELD_NAMESPACE = "$app:loyalty"
# The member's tier: an app-owned metafield in the bare ``$app`` namespace, the one the
# app's declarative definition in ``shopify.app.toml`` (``[customer.metafields.app.tier]``:
# merchants can read and filter segments by it) can describe; the TOML cannot name a
# ``$app:<sub>`` namespace.
TIER_METAFIELD_NAMESPACE = "$app"
TIER_METAFIELD_KEY = "tier"


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


# --- batches: one metafield per customer for many customers, tags of many customers ---------

METAFIELDS_SET_MAX = 25  # the platform's limit of ``metafieldsSet`` inputs per call
TAGS_BATCH_MAX = 25  # customers per aliased tags document (2 mutations each: cost 500)


def customer_text_metafield_write(
    shop: Shop,
    *,
    namespace: str,
    key: str,
    values: Sequence[tuple[str, str | None]],
    client: AdminClient | None = None,
) -> dict[int, str]:
    """Write one ``single_line_text_field`` metafield on up to ``METAFIELDS_SET_MAX``
    customers: ``values`` holds ``(customer gid, value)``, a ``None`` value deletes the
    metafield. One ``metafieldsSet`` call for the values (the platform applies it all or
    nothing, so the inputs it refuses by ``elementIndex`` are left out and the rest sent
    again once) and one ``metafieldsDelete`` for the deletions. Returns the refused
    positions of ``values`` with the platform's reason; a refusal not tied to one input
    raises ``ShopifyUserError``; the client raises the other failures."""
    if len(values) > METAFIELDS_SET_MAX:
        raise ValueError(f"at most {METAFIELDS_SET_MAX} metafields per call")
    api = admin_client(shop, client)
    refused: dict[int, str] = {}
    to_set = [(i, gid, value) for i, (gid, value) in enumerate(values) if value is not None]
    for _ in range(2):
        if not to_set:
            break
        inputs = [
            {
                "ownerId": gid,
                "namespace": namespace,
                "key": key,
                "type": "single_line_text_field",
                "value": value,
            }
            for _, gid, value in to_set
        ]
        payload = api.execute(
            CUSTOMER_LOYALTY_METAFIELDS_SET_DOCUMENT, {"metafields": inputs}
        ).data.get("metafieldsSet")
        errors = _user_errors(shop, payload, "metafieldsSet")
        if not errors:
            break
        by_input = {
            e["elementIndex"]: _message(e) for e in errors if isinstance(e.get("elementIndex"), int)
        }
        if len(by_input) != len(errors) or not set(by_input) <= set(range(len(to_set))):
            raise ShopifyUserError(
                f"metafieldsSet: {'; '.join(_message(e) for e in errors)}", user_errors=errors
            )
        for position, message in by_input.items():
            refused[to_set[position][0]] = message
        to_set = [item for n, item in enumerate(to_set) if n not in by_input]
    else:
        raise ShopifyUserError("metafieldsSet: inputs refused twice", user_errors=[])
    deletions = [
        {"ownerId": gid, "namespace": namespace, "key": key} for gid, v in values if v is None
    ]
    if deletions:
        api.mutate(
            CUSTOMER_LOYALTY_METAFIELDS_DELETE_DOCUMENT,
            {"metafields": deletions},
            root="metafieldsDelete",
        )
    return refused


_TAGS_FIELD = "  {alias}: {root}(id: $id{n}, tags: ${arg}{n}) {{ userErrors {{ field message }} }}"


def customer_tags_batch_document(changes: Sequence[tuple[bool, bool]]) -> str:
    """One mutation changing the tags of several resources: per change ``(adds,
    removes)``, an aliased ``tagsRemove`` and/or ``tagsAdd`` (``r<n>``/``a<n>``) with its
    own variables. The platform runs a document's mutations in order."""
    params: list[str] = []
    fields: list[str] = []
    for n, (adds, removes) in enumerate(changes):
        params.append(f"$id{n}: ID!")
        if removes:
            params.append(f"$remove{n}: [String!]!")
            fields.append(_TAGS_FIELD.format(alias=f"r{n}", root="tagsRemove", n=n, arg="remove"))
        if adds:
            params.append(f"$add{n}: [String!]!")
            fields.append(_TAGS_FIELD.format(alias=f"a{n}", root="tagsAdd", n=n, arg="add"))
    return "mutation BeamTagsBatch(" + ", ".join(params) + ") {\n" + "\n".join(fields) + "\n}\n"


# The largest batch (every customer gains one tag and loses one), for the schema checks.
CUSTOMER_TAGS_BATCH_DOCUMENT = customer_tags_batch_document([(True, True)] * TAGS_BATCH_MAX)


def customer_tags_batch(
    shop: Shop,
    *,
    changes: Sequence[tuple[str, Sequence[str], Sequence[str]]],
    client: AdminClient | None = None,
) -> dict[int, str]:
    """Change the tags of up to ``TAGS_BATCH_MAX`` resources in one call: ``changes`` holds
    ``(gid, tags to add, tags to remove)``. Returns the positions of ``changes`` the platform
    refused with its reason (their other tag change may have been applied: tags are
    idempotent, so the caller simply sends them again)."""
    if len(changes) > TAGS_BATCH_MAX:
        raise ValueError(f"at most {TAGS_BATCH_MAX} resources per call")
    wanted = [(gid, list(add), list(remove)) for gid, add, remove in changes if add or remove]
    positions = [n for n, (_, add, remove) in enumerate(changes) if add or remove]
    if not wanted:
        return {}
    variables: dict[str, Any] = {}
    for n, (gid, add, remove) in enumerate(wanted):
        variables[f"id{n}"] = gid
        if remove:
            variables[f"remove{n}"] = remove
        if add:
            variables[f"add{n}"] = add
    document = customer_tags_batch_document([(bool(a), bool(r)) for _, a, r in wanted])
    data = admin_client(shop, client).execute(document, variables).data
    refused: dict[int, str] = {}
    for n in range(len(wanted)):
        for alias in (f"r{n}", f"a{n}"):
            if alias not in data:
                continue
            errors = _user_errors(shop, data[alias], alias)
            if errors:
                refused[positions[n]] = "; ".join(_message(e) for e in errors)
    return refused


def _user_errors(shop: Shop, payload: Any, root: str) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        raise ShopifyApiError(f"{shop.domain}: {root} returned no payload")
    return [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]


def _message(error: dict[str, Any]) -> str:
    return str(error.get("message") or error)[:300]


CUSTOMER_ORDER_COUNT_DOCUMENT = """
query BeamCustomerOrderCount($id: ID!) {
  customer(id: $id) { numberOfOrders }
}
"""


def customer_order_count(
    shop: Shop, *, customer_gid: str, client: AdminClient | None = None
) -> int | None:
    """How many orders the customer has placed in the store (before the app was installed
    too); None when the store has no such customer."""
    data = admin_client(shop, client).execute(CUSTOMER_ORDER_COUNT_DOCUMENT, {"id": customer_gid})
    customer = data.data.get("customer")
    if not customer:
        return None
    return int(customer.get("numberOfOrders") or 0)
