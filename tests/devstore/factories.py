from __future__ import annotations

from decimal import Decimal

import factory

from devstore import services
from devstore.models import DevCustomer, DevProduct, DevShop


class DevShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DevShop

    domain = factory.Sequence(lambda n: f"shop-{n}.myshopify.com")
    shop_id = factory.Sequence(lambda n: 70_000_000 + n)
    name = factory.Sequence(lambda n: f"Shop {n}")
    email = "owner@example.com"
    currency = "USD"
    iana_timezone = "America/New_York"


class DevProductFactory(factory.Factory):
    """Goes through ``services.product_create`` so the default variant exists."""

    class Meta:
        model = DevProduct

    shop = factory.SubFactory(DevShopFactory)
    title = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("20.00")
    gift_card = False

    @classmethod
    def _create(cls, model_class, shop, title, price, gift_card, **kwargs):
        return services.product_create(shop, title, price, gift_card=gift_card)


class DevCustomerFactory(factory.Factory):
    class Meta:
        model = DevCustomer

    shop = factory.SubFactory(DevShopFactory)
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Lovelace{n}")

    @classmethod
    def _create(cls, model_class, shop, email, first_name, last_name, **kwargs):
        return services.customer_create(shop, email, first_name, last_name)
