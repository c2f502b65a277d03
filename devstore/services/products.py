"""The catalogue: products, each with its default variant or the variants given."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import transaction

from devstore.identifiers import id_allocate
from devstore.models import DevProduct, DevShop, DevVariant


def product_create(
    shop: DevShop,
    title: str,
    price: Decimal,
    *,
    tags: Iterable[str] = (),
    gift_card: bool = False,
    sku: str = "",
    variants: Sequence[tuple[str, Decimal]] = (),
) -> DevProduct:
    """A product with one default variant at ``price`` (``product.variants.get()``), or one
    variant per ``(title, price)`` of ``variants`` when given (the platform has no default
    variant for a product with options)."""
    with transaction.atomic():
        product = DevProduct.objects.create(
            shop=shop, id=id_allocate("product"), title=title, tags=list(tags), gift_card=gift_card
        )
        for variant_title, variant_price in variants or [("Default Title", price)]:
            DevVariant.objects.create(
                product=product,
                id=id_allocate("variant"),
                title=variant_title,
                price=Decimal(variant_price),
                sku=sku,
            )
    return product
