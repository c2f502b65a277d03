"""What every devstore page shares: the shop from the URL and the shopper's session keys."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from devstore.models import DevCustomer, DevShop
from merchants.domains import shop_domain_is_valid


def shop_or_404(domain: str) -> DevShop:
    if not shop_domain_is_valid(domain):
        raise Http404("Not a shop domain")
    return get_object_or_404(DevShop, domain=domain.lower())


def customer_key(shop: DevShop) -> str:
    return f"devstore_customer:{shop.domain}"


def cart_key(shop: DevShop) -> str:
    return f"devstore_cart:{shop.domain}"


def logged_in(request: HttpRequest, shop: DevShop) -> DevCustomer | None:
    customer_id = request.session.get(customer_key(shop))
    if not customer_id:
        return None
    return DevCustomer.objects.filter(shop=shop, id=customer_id).first()


def checkout_code_key(shop: DevShop) -> str:
    return f"devstore_checkout_code:{shop.domain}"
