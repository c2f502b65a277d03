"""Code discounts: the discount node; create, deactivate and delete."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from devstore.graphql.connections import list_connection
from devstore.graphql.inputs import input_datetime, input_decimal, user_error
from devstore.graphql.values import iso, money_v2
from devstore.identifiers import gid_parse
from devstore.models import DevCustomer, DevDiscountCode, DevProduct, DevShop, DevVariant
from devstore.services import discount_code_create, discount_code_status

if TYPE_CHECKING:
    from collections.abc import Callable

    from devstore.graphql.graph import ShopGraph


class DiscountNodes:
    """The ``DiscountCodeNode`` resolver of ``ShopGraph``."""

    shop: DevShop
    currency: str
    # resolvers of the other ``ShopGraph`` mixins
    customer_node: Callable[[DevCustomer], dict]
    variant_node: Callable[[DevVariant], dict]
    product_node: Callable[[DevProduct], dict]

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
                "amount": money_v2(code.value, currency),
                "appliesOnEachItem": code.applies_on_each_item,
            }
        if code.entitled_variant_ids or code.entitled_product_ids:
            variants = DevVariant.objects.filter(
                product__shop=self.shop, id__in=code.entitled_variant_ids
            ).select_related("product")
            products = DevProduct.objects.filter(shop=self.shop, id__in=code.entitled_product_ids)
            items = {
                "__typename": "DiscountProducts",
                "productVariants": lambda info, first=None, after=None, **_: list_connection(
                    [self.variant_node(v) for v in variants], first, after
                ),
                "products": lambda info, first=None, after=None, **_: list_connection(
                    [self.product_node(p) for p in products], first, after
                ),
            }
        else:
            items = {"__typename": "AllDiscountItems", "allItems": True}
        minimum = None
        if code.minimum_subtotal is not None:
            minimum = {
                "__typename": "DiscountMinimumSubtotal",
                "greaterThanOrEqualToSubtotal": money_v2(code.minimum_subtotal, currency),
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
            "startsAt": iso(code.starts_at),
            "endsAt": iso(code.ends_at),
            "createdAt": iso(code.created_at),
            "updatedAt": iso(code.updated_at),
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
            "codes": lambda info, first=None, after=None, **_: list_connection(
                [redeem], first, after
            ),
            "codesCount": {"count": 1, "precision": "EXACT"},
            "maximumShippingPrice": money_v2(code.maximum_shipping_price, currency)
            if code.maximum_shipping_price is not None
            else None,
            "destinationSelection": {"__typename": "DiscountCountryAll", "allCountries": True},
            "shareableUrls": [],
        }
        return {"__typename": "DiscountCodeNode", "id": code.gid, "codeDiscount": discount}


class DiscountMutations:
    """The discount code mutations of ``Mutations``."""

    shop: DevShop
    graph: ShopGraph

    def _discount_common(
        self, data: dict[str, Any], prefix: str
    ) -> tuple[dict[str, Any], list[dict]]:
        errors: list[dict] = []
        code = (data.get("code") or "").strip()
        title = (data.get("title") or "").strip()
        if not code:
            errors.append(user_error([prefix, "code"], "Code can't be blank", "BLANK"))
        elif len(code) > 255:
            errors.append(user_error([prefix, "code"], "Code is too long", "TOO_LONG"))
        elif DevDiscountCode.objects.filter(
            shop=self.shop, code_key=code.upper(), deleted_at__isnull=True
        ).exists():
            errors.append(
                user_error(
                    [prefix, "code"], "Code must be unique. Please try a different code.", "TAKEN"
                )
            )
        if not title:
            errors.append(user_error([prefix, "title"], "Title can't be blank", "BLANK"))
        starts_at = input_datetime(data.get("startsAt")) if data.get("startsAt") else timezone.now()
        ends_at = input_datetime(data.get("endsAt")) if data.get("endsAt") else None
        if starts_at is None:
            errors.append(user_error([prefix, "startsAt"], "Starts at is invalid", "INVALID"))
        if data.get("endsAt") and ends_at is None:
            errors.append(user_error([prefix, "endsAt"], "Ends at is invalid", "INVALID"))
        if starts_at and ends_at and ends_at <= starts_at:
            errors.append(
                user_error(
                    [prefix, "endsAt"],
                    "Ends at needs to be after starts_at",
                    "END_DATE_BEFORE_START_DATE",
                )
            )
        usage_limit = data.get("usageLimit")
        if usage_limit is not None and usage_limit < 1:
            errors.append(
                user_error(
                    [prefix, "usageLimit"], "Usage limit must be greater than 0", "GREATER_THAN"
                )
            )
        customer_ids: list[int] = []
        selection = data.get("context") or {}
        legacy = data.get("customerSelection") or {}
        added = ((selection.get("customers") or {}).get("add")) or (
            (legacy.get("customers") or {}).get("add")
        )
        for index, gid in enumerate(added or []):
            parsed = gid_parse(gid)
            if (
                parsed is not None
                and parsed[0] == "Customer"
                and DevCustomer.objects.filter(shop=self.shop, id=parsed[1]).exists()
            ):
                customer_ids.append(parsed[1])
            else:
                errors.append(
                    user_error(
                        [prefix, "context", "customers", "add", str(index)],
                        "Customer does not exist",
                        "INVALID",
                    )
                )
        minimum = None
        requirement = data.get("minimumRequirement") or {}
        subtotal = (requirement.get("subtotal") or {}).get("greaterThanOrEqualToSubtotal")
        if subtotal is not None:
            minimum = input_decimal(subtotal)
            if minimum is None or minimum <= 0:
                errors.append(
                    user_error(
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
            percentage = input_decimal(value["percentage"])
            if percentage is None or not Decimal(0) < percentage <= 1:
                errors.append(
                    user_error(
                        [prefix, "customerGets", "value", "percentage"],
                        "Value must be between 0.0 and 1.0",
                        "VALUE_OUTSIDE_RANGE",
                    )
                )
            kind_kwargs.update(value_type="percentage", value=percentage or Decimal(0))
        elif value.get("discountAmount"):
            amount = input_decimal(value["discountAmount"].get("amount"))
            if amount is None or amount <= 0:
                errors.append(
                    user_error(
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
                user_error(
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
                user_error(
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
            maximum_shipping_price=input_decimal(maximum) if maximum is not None else None,
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
                "userErrors": [user_error(["id"], "Discount does not exist", "INVALID")],
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
                "userErrors": [user_error(["id"], "Discount does not exist", "INVALID")],
            }
        code.deleted_at = timezone.now()
        code.save(update_fields=["deleted_at"])
        return {"deletedCodeDiscountId": code.gid, "userErrors": []}
