"""The catalogue: products, each with its default variant."""

from __future__ import annotations

from collections.abc import Iterable
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
) -> DevProduct:
    """A product with one default variant (``product.variants.get()``)."""
    with transaction.atomic():
        product = DevProduct.objects.create(
            shop=shop, id=id_allocate("product"), title=title, tags=list(tags), gift_card=gift_card
        )
        DevVariant.objects.create(
            product=product, id=id_allocate("variant"), price=Decimal(price), sku=sku
        )
    return product
