"""The cart a checkout prices: its lines and the discount applied to them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from devstore.errors import OrderOperationRefused
from devstore.models import DevDiscountCode, DevProduct, DevShop, DevVariant
from devstore.services.writes import ZERO


@dataclass
class Line:
    """One cart line; the discount check and checkout fill in its discount and tax."""

    variant: DevVariant
    quantity: int
    line_id: int = 0
    discount: Decimal = ZERO
    tax: Decimal = ZERO
    tax_rate: Decimal | None = None
    eligible: bool = False

    @property
    def product(self) -> DevProduct:
        return self.variant.product

    @property
    def total(self) -> Decimal:
        return self.variant.price * self.quantity

    @property
    def taxable(self) -> bool:
        return not self.product.gift_card


@dataclass
class Applied:
    """A discount code applied to a cart: the lines it discounts and its shipping discount."""

    code: DevDiscountCode
    shipping_discount: Decimal = ZERO
    lines: list[Line] = field(default_factory=list)

    @property
    def amount(self) -> Decimal:
        return sum((line.discount for line in self.lines), ZERO) + self.shipping_discount


def resolve_lines(shop: DevShop, lines: Sequence[tuple[DevVariant | int, int]]) -> list[Line]:
    """``(variant or its id, quantity)`` pairs as lines of ``shop``'s variants, or refused."""
    if not lines:
        raise OrderOperationRefused("An order needs at least one line.")
    ids = [v.id if isinstance(v, DevVariant) else int(v) for v, _ in lines]
    variants = DevVariant.objects.select_related("product").in_bulk(ids)
    out = []
    for variant_id, (_, quantity) in zip(ids, lines, strict=True):
        variant = variants.get(variant_id)
        if variant is None or variant.product.shop_id != shop.pk:
            raise OrderOperationRefused(f"Unknown variant {variant_id}.")
        if int(quantity) < 1:
            raise OrderOperationRefused("Quantities must be at least 1.")
        out.append(Line(variant=variant, quantity=int(quantity)))
    return out
