"""The storefront a shopper browses: catalogue, product and account pages with the theme app
embed, discount links and the password-less login."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from devstore import theme_embed
from devstore.models import DevCustomer, DevShop, DevVariant
from devstore.views.checkout import extension_urls
from devstore.views.common import checkout_code_key, customer_key, logged_in, shop_or_404


def theme_context(request: HttpRequest, shop: DevShop) -> dict:
    """What every storefront page shares: the shopper and the theme app embed (the launcher
    as ``blocks/launcher-embed.liquid`` renders it; ``?launcher=0`` leaves it out, ``?locale=``
    picks the storefront language)."""
    customer = logged_in(request, shop)
    locale = request.GET.get("locale", "en")
    if locale not in {"en", "fr", "de", "es"}:
        locale = "en"
    embed = None
    if request.GET.get("launcher") != "0" and theme_embed.launcher_installed():
        embed = theme_embed.launcher_embed_attrs(shop, customer, locale)
    return {
        "shop": shop,
        "customer": customer,
        "customers": DevCustomer.objects.filter(shop=shop)[:200],
        "beam_embed": embed,
        "locale": locale,
        "proxy_base": reverse("devstore:app_proxy_root", args=[shop.domain]).rstrip("/"),
    }


@require_GET
def storefront(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = shop_or_404(shop_domain)
    variants = DevVariant.objects.filter(product__shop=shop).select_related("product")
    context = {**theme_context(request, shop), "variants": variants}
    return render(request, "devstore/storefront.html", context)


@require_GET
def product(request: HttpRequest, shop_domain: str, variant_id: int) -> HttpResponse:
    """A product page with the product-points app block under the price."""
    shop = shop_or_404(shop_domain)
    variant = get_object_or_404(
        DevVariant.objects.select_related("product"), product__shop=shop, id=variant_id
    )
    theme = theme_context(request, shop)
    context = {
        **theme,
        "variant": variant,
        "product_points": theme_embed.product_points(
            shop,
            product_id=variant.product.id,
            price=variant.price,
            member=theme["customer"] is not None,
        ),
    }
    return render(request, "devstore/product.html", context)


@require_GET
def account(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The customer account page with the account-points app block and the stand-in of the
    customer-account extension (its birthday form and histories; log in/out here too)."""
    shop = shop_or_404(shop_domain)
    context = theme_context(request, shop)
    customer = context["customer"]
    context["account_points"] = theme_embed.account_points(shop, customer) if customer else None
    context["extension"] = extension_urls(request, shop) if customer else None
    return render(request, "devstore/account.html", context)


@require_GET
def discount_apply(request: HttpRequest, shop_domain: str, code: str) -> HttpResponse:
    """``/discount/CODE?redirect=/cart``: remember the code for checkout, then redirect
    (within the store only)."""
    shop = shop_or_404(shop_domain)
    request.session[checkout_code_key(shop)] = code.strip()[:64]
    root = reverse("devstore:storefront", args=[shop.domain])
    target = request.GET.get("redirect", "")
    if target.startswith(root):
        target = target[len(root) :]
    target = target.lstrip("/")
    if not target or "//" in target or ":" in target or "\\" in target:
        target = "cart"
    return redirect(root + target)


@require_POST
def customer_login(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """Password-less storefront login (or logout with an empty ``customer_id``)."""
    shop = shop_or_404(shop_domain)
    customer_id = request.POST.get("customer_id", "")
    if customer_id.isdigit() and DevCustomer.objects.filter(shop=shop, id=customer_id).exists():
        request.session[customer_key(shop)] = int(customer_id)
    else:
        request.session.pop(customer_key(shop), None)
    return redirect(request.POST.get("next") or reverse("devstore:storefront", args=[shop.domain]))
