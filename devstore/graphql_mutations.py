"""Admin GraphQL mutations of the devstore, validating input the way the platform does and
answering refusals as ``userErrors`` (never as top-level errors)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from devstore.identifiers import gid_parse, id_allocate
from devstore.models import (
    DevCustomer,
    DevDiscountCode,
    DevMetafield,
    DevOrder,
    DevProduct,
    DevStoreCreditTransaction,
)
from devstore.payloads import customer_payload
from devstore.services import discount_code_create
from devstore.webhooks import webhook_emit

if TYPE_CHECKING:
    from devstore.admin_graphql import ShopGraph

MAX_METAFIELDS_PER_CALL = 25


def _error(field: list[str], message: str, code: str | None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code, "extraInfo": None}


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


class Mutations:
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

    # discounts ------------------------------------------------------------------------
    def _discount_common(
        self, data: dict[str, Any], prefix: str
    ) -> tuple[dict[str, Any], list[dict]]:
        errors: list[dict] = []
        code = (data.get("code") or "").strip()
        title = (data.get("title") or "").strip()
        if not code:
            errors.append(_error([prefix, "code"], "Code can't be blank", "BLANK"))
        elif len(code) > 255:
            errors.append(_error([prefix, "code"], "Code is too long", "TOO_LONG"))
        elif DevDiscountCode.objects.filter(
            shop=self.shop, code_key=code.upper(), deleted_at__isnull=True
        ).exists():
            errors.append(
                _error(
                    [prefix, "code"], "Code must be unique. Please try a different code.", "TAKEN"
                )
            )
        if not title:
            errors.append(_error([prefix, "title"], "Title can't be blank", "BLANK"))
        starts_at = _datetime(data.get("startsAt")) if data.get("startsAt") else timezone.now()
        ends_at = _datetime(data.get("endsAt")) if data.get("endsAt") else None
        if starts_at is None:
            errors.append(_error([prefix, "startsAt"], "Starts at is invalid", "INVALID"))
        if data.get("endsAt") and ends_at is None:
            errors.append(_error([prefix, "endsAt"], "Ends at is invalid", "INVALID"))
        if starts_at and ends_at and ends_at <= starts_at:
            errors.append(
                _error(
                    [prefix, "endsAt"],
                    "Ends at needs to be after starts_at",
                    "END_DATE_BEFORE_START_DATE",
                )
            )
        usage_limit = data.get("usageLimit")
        if usage_limit is not None and usage_limit < 1:
            errors.append(
                _error([prefix, "usageLimit"], "Usage limit must be greater than 0", "GREATER_THAN")
            )
        customer_ids: list[int] = []
        selection = data.get("context") or {}
        legacy = data.get("customerSelection") or {}
        added = ((selection.get("customers") or {}).get("add")) or (
            (legacy.get("customers") or {}).get("add")
        )
        for index, gid in enumerate(added or []):
            parsed = gid_parse(gid)
            exists = (
                parsed is not None
                and parsed[0] == "Customer"
                and DevCustomer.objects.filter(shop=self.shop, id=parsed[1]).exists()
            )
            if not exists:
                errors.append(
                    _error(
                        [prefix, "context", "customers", "add", str(index)],
                        "Customer does not exist",
                        "INVALID",
                    )
                )
            else:
                customer_ids.append(parsed[1])
        minimum = None
        requirement = data.get("minimumRequirement") or {}
        subtotal = (requirement.get("subtotal") or {}).get("greaterThanOrEqualToSubtotal")
        if subtotal is not None:
            minimum = _decimal(subtotal)
            if minimum is None or minimum <= 0:
                errors.append(
                    _error(
                        [prefix, "minimumRequirement", "subtotal", "greaterThanOrEqualToSubtotal"],
                        "Minimum subtotal must be greater than 0",
                        "GREATER_THAN",
                    )
                )
        kwargs = {
            "code": code,
            "title": title,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "usage_limit": usage_limit,
            "applies_once_per_customer": bool(data.get("appliesOncePerCustomer")),
            "customer_ids": customer_ids,
            "minimum_subtotal": minimum,
            "tags": list(data.get("tags") or []),
            "combines_with": dict(data.get("combinesWith") or {}),
        }
        return kwargs, errors

    def discount_code_basic_create(self, info, basicCodeDiscount: dict) -> dict:
        prefix = "basicCodeDiscount"
        kwargs, errors = self._discount_common(basicCodeDiscount, prefix)
        gets = basicCodeDiscount.get("customerGets") or {}
        value = gets.get("value") or {}
        kind_kwargs: dict[str, Any] = {}
        if "percentage" in value and value["percentage"] is not None:
            percentage = _decimal(value["percentage"])
            if percentage is None or not Decimal(0) < percentage <= 1:
                errors.append(
                    _error(
                        [prefix, "customerGets", "value", "percentage"],
                        "Value must be between 0.0 and 1.0",
                        "VALUE_OUTSIDE_RANGE",
                    )
                )
            kind_kwargs.update(value_type="percentage", value=percentage or Decimal(0))
        elif value.get("discountAmount"):
            amount = _decimal(value["discountAmount"].get("amount"))
            if amount is None or amount <= 0:
                errors.append(
                    _error(
                        [prefix, "customerGets", "value", "discountAmount", "amount"],
                        "Value must be greater than 0",
                        "GREATER_THAN",
                    )
                )
            kind_kwargs.update(
                value_type="fixed_amount",
                value=amount or Decimal(0),
                applies_on_each_item=bool(value["discountAmount"].get("appliesOnEachItem")),
            )
        else:
            errors.append(
                _error(
                    [prefix, "customerGets", "value"],
                    "Customer gets value can't be blank",
                    "BLANK",
                )
            )
        items = gets.get("items") or {}
        products = items.get("products") or {}
        variant_ids, product_ids = [], []
        for gid in products.get("productVariantsToAdd") or []:
            parsed = gid_parse(gid)
            if parsed and parsed[0] == "ProductVariant":
                variant_ids.append(parsed[1])
        for gid in products.get("productsToAdd") or []:
            parsed = gid_parse(gid)
            if parsed and parsed[0] == "Product":
                product_ids.append(parsed[1])
        if not items.get("all") and not variant_ids and not product_ids:
            errors.append(
                _error(
                    [prefix, "customerGets", "items"],
                    "Items in 'customer get' must be specified",
                    "BLANK",
                )
            )
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors}
        code = discount_code_create(
            self.shop,
            kind=DevDiscountCode.Kind.BASIC,
            entitled_variant_ids=variant_ids,
            entitled_product_ids=product_ids,
            **kwargs,
            **kind_kwargs,
        )
        return {"codeDiscountNode": self.graph.discount_node(code), "userErrors": []}

    def discount_code_free_shipping_create(
        self,
        info,
        freeShippingCodeDiscount: dict,
    ) -> dict:
        data = freeShippingCodeDiscount
        kwargs, errors = self._discount_common(data, "freeShippingCodeDiscount")
        maximum = data.get("maximumShippingPrice")
        if errors:
            return {"codeDiscountNode": None, "userErrors": errors}
        code = discount_code_create(
            self.shop,
            kind=DevDiscountCode.Kind.FREE_SHIPPING,
            maximum_shipping_price=_decimal(maximum) if maximum is not None else None,
            **kwargs,
        )
        return {"codeDiscountNode": self.graph.discount_node(code), "userErrors": []}

    def _discount_by_gid(self, gid: str) -> DevDiscountCode | None:
        parsed = gid_parse(gid)
        if parsed is None or parsed[0] != "DiscountCodeNode":
            return None
        return (
            DevDiscountCode.objects.select_for_update()
            .filter(shop=self.shop, id=parsed[1], deleted_at__isnull=True)
            .first()
        )

    def discount_code_deactivate(self, info, id: str) -> dict:
        code = self._discount_by_gid(id)
        if code is None:
            return {
                "codeDiscountNode": None,
                "userErrors": [_error(["id"], "Discount does not exist", "INVALID")],
            }
        now = timezone.now()
        if code.status != DevDiscountCode.Status.DEACTIVATED:
            code.status = DevDiscountCode.Status.DEACTIVATED
            if code.ends_at is None or code.ends_at > now:
                code.ends_at = max(now, code.starts_at)
            code.updated_at = now
            code.save(update_fields=["status", "ends_at", "updated_at"])
        return {"codeDiscountNode": self.graph.discount_node(code), "userErrors": []}

    def discount_code_delete(self, info, id: str) -> dict:
        code = self._discount_by_gid(id)
        if code is None:
            return {
                "deletedCodeDiscountId": None,
                "userErrors": [_error(["id"], "Discount does not exist", "INVALID")],
            }
        code.deleted_at = timezone.now()
        code.save(update_fields=["deleted_at"])
        return {"deletedCodeDiscountId": code.gid, "userErrors": []}

    # store credit ---------------------------------------------------------------------
    def store_credit_account_credit(self, info, id: str, creditInput: dict) -> dict:
        parsed = gid_parse(id)
        customer = None
        if parsed and parsed[0] in {"Customer", "StoreCreditAccount"}:
            customer = (
                DevCustomer.objects.select_for_update().filter(shop=self.shop, id=parsed[1]).first()
            )
        if customer is None:
            code = "OWNER_NOT_FOUND" if parsed and parsed[0] == "Customer" else "ACCOUNT_NOT_FOUND"
            message = (
                "Owner does not exist"
                if code == "OWNER_NOT_FOUND"
                else "Store credit account does not exist"
            )
            return self._credit_refused(["id"], message, code)
        money_input = creditInput.get("creditAmount") or {}
        amount = _decimal(money_input.get("amount"))
        if amount is None or amount <= 0:
            return self._credit_refused(
                ["creditInput", "creditAmount", "amount"],
                "A positive amount must be used to credit a store credit account",
                "NEGATIVE_OR_ZERO_AMOUNT",
            )
        if money_input.get("currencyCode") != self.shop.currency:
            return self._credit_refused(
                ["creditInput", "creditAmount", "currencyCode"],
                "The currency provided does not match the currency of the store credit account",
                "MISMATCHING_CURRENCY",
            )
        expires_at = (
            _datetime(creditInput.get("expiresAt")) if creditInput.get("expiresAt") else None
        )
        now = timezone.now()
        if expires_at is not None and expires_at <= now:
            return self._credit_refused(
                ["creditInput", "expiresAt"],
                "The expiry date must be in the future",
                "EXPIRES_AT_IN_PAST",
            )
        customer.store_credit += amount.quantize(Decimal("0.01"))
        customer.save(update_fields=["store_credit"])
        transaction_row = DevStoreCreditTransaction.objects.create(
            customer=customer,
            id=id_allocate("transaction"),
            amount=amount,
            currency=self.shop.currency,
            balance_after=customer.store_credit,
            expires_at=expires_at,
            created_at=now,
        )
        from devstore.admin_graphql import _iso, _money_v2

        currency = self.shop.currency
        return {
            "storeCreditAccountTransaction": {
                "__typename": "StoreCreditAccountCreditTransaction",
                "id": f"gid://shopify/StoreCreditAccountCreditTransaction/{transaction_row.id}",
                "amount": _money_v2(amount, currency),
                "balanceAfterTransaction": _money_v2(customer.store_credit, currency),
                "remainingAmount": _money_v2(amount, currency),
                "createdAt": _iso(now),
                "expiresAt": _iso(expires_at),
                "event": "ADJUSTMENT",
                "origin": None,
                "account": self.graph.store_credit_account_node(customer),
            },
            "userErrors": [],
        }

    @staticmethod
    def _credit_refused(field: list[str], message: str, code: str) -> dict:
        return {
            "storeCreditAccountTransaction": None,
            "userErrors": [{"field": field, "message": message, "code": code}],
        }

    # metafields and tags --------------------------------------------------------------
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
        return kind == "Shop" and pk == self.shop.shop_id

    @staticmethod
    def _value_error(kind: str, value: str) -> str | None:
        try:
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
        resolved = []
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

    def tags_change(self, gid: str, tags: list[str], *, add: bool) -> dict:
        parsed = gid_parse(gid)
        tags = [t.strip() for tag in tags for t in tag.split(",") if t.strip()]
        not_found = {
            "node": None,
            "userErrors": [{"field": ["id"], "message": "Resource not found"}],
        }
        if parsed is None:
            return not_found
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
