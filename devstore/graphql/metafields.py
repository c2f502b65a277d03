"""Metafields: the ``$app`` namespace, metafield nodes and fields, set and delete."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from devstore.graphql.connections import list_connection
from devstore.graphql.values import iso
from devstore.identifiers import gid_parse, id_allocate
from devstore.models import DevCustomer, DevMetafield, DevOrder, DevProduct, DevShop

APP_ID = 7_000_001  # the simulated app's id, used to resolve the "$app" namespace


def app_installation_gid(shop: DevShop) -> str:
    """Beam's installation on this store (one per shop: its id is the shop's)."""
    return f"gid://shopify/AppInstallation/{shop.shop_id}"


Resolver = Callable[..., Any]


if TYPE_CHECKING:
    from devstore.graphql.graph import ShopGraph


class MetafieldNodes:
    """Metafield resolvers of ``ShopGraph``."""

    shop: DevShop

    @staticmethod
    def namespace_resolve(namespace: str | None) -> str:
        namespace = namespace or "$app"
        if namespace == "$app":
            return f"app--{APP_ID}"
        if namespace.startswith("$app:"):
            return f"app--{APP_ID}--{namespace[5:]}"
        return namespace

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
            "createdAt": iso(metafield.created_at),
            "updatedAt": iso(metafield.updated_at),
            "ownerType": (gid_parse(metafield.owner_gid) or ("SHOP", 0))[0].upper(),
        }

    def metafield_fields(self, owner_gid: str) -> dict[str, Resolver]:
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
            return list_connection(nodes, first, after)

        return {"metafield": metafield, "metafields": metafields}


MAX_METAFIELDS_PER_CALL = 25
# The types the simulator accepts (the platform has more: references, lists, measurements)
# and their value limits (the platform's "metafield limits": 65k for text, 2m for JSON).
METAFIELD_TYPES = frozenset(
    {
        "single_line_text_field",
        "multi_line_text_field",
        "number_integer",
        "number_decimal",
        "boolean",
        "json",
        "date",
        "date_time",
        "url",
        "color",
    }
)
TEXT_MAX_LENGTH = 65_535
VALUE_MAX_LENGTH = {"json": 2_000_000, "url": 2048}


class MetafieldMutations:
    """``metafieldsSet`` and ``metafieldsDelete`` of ``Mutations``."""

    shop: DevShop
    graph: ShopGraph

    def _owner_exists(self, gid: str) -> bool:
        parsed = gid_parse(gid)
        if parsed is None:
            return False
        kind, pk = parsed
        if kind == "Customer":
            return DevCustomer.objects.filter(shop=self.shop, id=pk).exists()
        if kind == "Order":
            return DevOrder.objects.filter(shop=self.shop, id=pk).exists()
        if kind == "Product":
            return DevProduct.objects.filter(shop=self.shop, id=pk).exists()
        return kind in ("Shop", "AppInstallation") and pk == self.shop.shop_id

    @staticmethod
    def _value_error(kind: str, value: str) -> str | None:
        if kind not in METAFIELD_TYPES:
            return f"Type '{kind}' is not a valid metafield type."
        if value == "":
            return "Value can't be blank."
        if len(value) > VALUE_MAX_LENGTH.get(kind, TEXT_MAX_LENGTH):
            return f"Value is too long for type {kind}."
        try:
            if kind == "single_line_text_field" and ("\n" in value or "\r" in value):
                return "Value must be a single line of text."
            if kind == "number_integer":
                int(value)
            elif kind == "number_decimal":
                Decimal(value)
            elif kind == "boolean" and value not in {"true", "false"}:
                return "Value must be true or false."
            elif kind == "json":
                json.loads(value)
        except (ValueError, InvalidOperation):
            return f"Value is invalid for type {kind}."
        return None

    def metafields_set(self, info, metafields: list[dict]) -> dict:
        errors: list[dict] = []
        if len(metafields) > MAX_METAFIELDS_PER_CALL:
            return {
                "metafields": None,
                "userErrors": [
                    {
                        "field": ["metafields"],
                        "message": "Exceeded the maximum metafields input limit of 25.",
                        "code": "LESS_THAN_OR_EQUAL_TO",
                        "elementIndex": None,
                    }
                ],
            }
        resolved: list[tuple[dict[str, Any], str, str, DevMetafield | None]] = []
        for index, item in enumerate(metafields):
            namespace = self.graph.namespace_resolve(item.get("namespace"))
            existing = DevMetafield.objects.filter(
                shop=self.shop, owner_gid=item["ownerId"], namespace=namespace, key=item["key"]
            ).first()
            kind = item.get("type") or (existing.type if existing else None)

            def fail(field: str, message: str, code: str, index: int = index) -> None:
                errors.append(
                    {
                        "field": ["metafields", str(index), field],
                        "message": message,
                        "code": code,
                        "elementIndex": index,
                    }
                )

            if not self._owner_exists(item["ownerId"]):
                fail("ownerId", "Owner does not exist.", "INVALID")
            elif not kind:
                fail("type", "Type can't be blank.", "BLANK")
            elif (problem := self._value_error(kind, item["value"])) is not None:
                fail("value", problem, "INVALID_VALUE")
            elif item.get("compareDigest") is not None and (
                existing is None
                or hashlib.sha256(existing.value.encode()).hexdigest() != item["compareDigest"]
            ):
                fail(
                    "compareDigest",
                    "The resource has been updated since it was loaded.",
                    "STALE_OBJECT",
                )
            else:
                resolved.append((item, namespace, kind, existing))
        if errors:
            return {"metafields": [], "userErrors": errors}
        now = timezone.now()
        rows = []
        for item, namespace, kind, existing in resolved:
            if existing is None:
                existing = DevMetafield.objects.create(
                    shop=self.shop,
                    id=id_allocate("metafield"),
                    owner_gid=item["ownerId"],
                    namespace=namespace,
                    key=item["key"],
                    type=kind,
                    value=item["value"],
                    created_at=now,
                    updated_at=now,
                )
            else:
                existing.type, existing.value, existing.updated_at = kind, item["value"], now
                existing.save(update_fields=["type", "value", "updated_at"])
            rows.append(self.graph.metafield_node(existing))
        return {"metafields": rows, "userErrors": []}

    def metafields_delete(self, info, metafields: list[dict]) -> dict:
        """Delete by (owner, namespace, key); a metafield that does not exist is ``null`` in
        ``deletedMetafields`` and not an error, as on the platform."""
        if not metafields:
            return {
                "deletedMetafields": None,
                "userErrors": [
                    {"field": ["metafields"], "message": "At least one metafield is required."}
                ],
            }
        deleted: list[dict | None] = []
        for item in metafields:
            namespace = self.graph.namespace_resolve(item.get("namespace"))
            count, _ = DevMetafield.objects.filter(
                shop=self.shop, owner_gid=item["ownerId"], namespace=namespace, key=item["key"]
            ).delete()
            deleted.append(
                {"ownerId": item["ownerId"], "namespace": namespace, "key": item["key"]}
                if count
                else None
            )
        return {"deletedMetafields": deleted, "userErrors": []}
