"""The devstore's index and each shop's home in the store admin: create a shop, see whether
Beam is installed and install it, create and list products."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devstore import services
from devstore.errors import ShopExists
from devstore.forms import ProductCreateForm, ShopCreateForm
from devstore.models import DevShop, DevVariant
from devstore.views.common import shop_or_404


@require_http_methods(["GET", "POST"])
def shop_list(request: HttpRequest) -> HttpResponse:
    """Every simulated shop, and the form that creates one (Beam is not installed by it)."""
    form = ShopCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            shop = services.shop_create(
                data["domain"],
                name=data["name"],
                email=data["email"],
                currency=data["currency"],
                iana_timezone=data["iana_timezone"],
                taxes_included=data["taxes_included"],
                exist_ok=False,
            )
        except ShopExists as exc:  # created by someone else since the form's check
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Shop {shop.domain} created. Install Beam from here.")
            return redirect("devstore:shop_home", shop.domain)
    status = 400 if form.is_bound else 200
    context = {"shops": DevShop.objects.all(), "form": form}
    return render(request, "devstore/index.html", context, status=status)


def _home(
    request: HttpRequest, shop: DevShop, form: ProductCreateForm, status: int
) -> HttpResponse:
    variants = (
        DevVariant.objects.filter(product__shop=shop)
        .select_related("product")
        .order_by("-product_id", "id")
    )
    context = {
        "shop": shop,
        "form": form,
        "variants": variants[:200],
        "oauth_install_url": (
            f"{settings.SHOPIFY_APP_URL}{reverse('auth_install')}?shop={shop.domain}"
        ),
    }
    return render(request, "devstore/shop_home.html", context, status=status)


@require_GET
def shop_home(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The shop's admin home: Beam's install state with the two ways to install it (open it
    in the admin, or the OAuth install link), the product form and the catalogue."""
    shop = shop_or_404(shop_domain)
    return _home(request, shop, ProductCreateForm(currency=shop.currency), 200)


@require_POST
def product_add(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """Create a product priced in the shop's currency; it is on the storefront at once."""
    shop = shop_or_404(shop_domain)
    form = ProductCreateForm(request.POST, currency=shop.currency)
    if not form.is_valid():
        return _home(request, shop, form, 400)
    data = form.cleaned_data
    product = services.product_create(
        shop,
        data["title"],
        data["price"],
        tags=data["tags"],
        gift_card=data["gift_card"],
        sku=data["sku"],
        variants=data["variants"],
    )
    messages.success(request, f"Product “{product.title}” created.")
    return redirect("devstore:shop_home", shop.domain)
