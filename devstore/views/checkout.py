"""The cart, the checkout with the stand-in of Beam's checkout extension, and the thank-you
page."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devstore import services
from devstore.errors import DevstoreError
from devstore.models import DevCustomer, DevOrder, DevShop, DevVariant
from devstore.oauth import extension_token_issue
from devstore.views.common import cart_key, checkout_code_key, logged_in, shop_or_404


@require_POST
def cart_add(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = shop_or_404(shop_domain)
    variant_id = request.POST.get("variant_id", "")
    if (
        not variant_id.isdigit()
        or not DevVariant.objects.filter(product__shop=shop, id=variant_id).exists()
    ):
        return HttpResponseBadRequest("Unknown variant")
    cart = request.session.get(cart_key(shop), {})
    cart[variant_id] = cart.get(variant_id, 0) + 1
    request.session[cart_key(shop)] = cart
    return redirect("devstore:cart", shop.domain)


def cart_lines(request: HttpRequest, shop: DevShop) -> list[tuple[DevVariant, int]]:
    cart = request.session.get(cart_key(shop), {})
    variants = DevVariant.objects.filter(product__shop=shop, id__in=[int(k) for k in cart])
    by_id = {v.id: v for v in variants.select_related("product")}
    return [(by_id[int(k)], qty) for k, qty in cart.items() if int(k) in by_id]


@require_GET
@never_cache
def cart_json(request: HttpRequest, shop_domain: str) -> JsonResponse:
    """``GET /cart.js``, the storefront's AJAX cart (its count, lines and total in the
    currency's hundredths), for scripts on the page such as Beam's panel."""
    shop = shop_or_404(shop_domain)
    lines = cart_lines(request, shop)
    items = [
        {
            "variant_id": v.id,
            "product_id": v.product.id,
            "title": v.product.title,
            "quantity": qty,
            "price": int(v.price * 100),
            "line_price": int(v.price * 100) * qty,
        }
        for v, qty in lines
    ]
    return JsonResponse(
        {
            "item_count": sum(qty for _, qty in lines),
            "items": items,
            "total_price": sum(i["line_price"] for i in items),
            "currency": shop.currency,
        }
    )


@require_http_methods(["GET", "POST"])
def cart(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The cart and checkout form; POST places the order."""
    shop = shop_or_404(shop_domain)
    lines = cart_lines(request, shop)
    customer = logged_in(request, shop)
    if request.method == "POST":
        if request.POST.get("clear"):
            request.session.pop(cart_key(shop), None)
            return redirect("devstore:cart", shop.domain)
        chosen = request.POST.get("customer_id", "")
        if chosen.isdigit():
            customer = DevCustomer.objects.filter(shop=shop, id=chosen).first()
        elif chosen == "guest":
            customer = None
        try:
            shipping = Decimal(request.POST.get("shipping") or "5.00")
        except InvalidOperation:
            shipping = Decimal("5.00")
        typed_code = request.POST.get("discount_code", "").strip()
        try:
            order = services.order_place(
                shop,
                customer=customer,
                email=request.POST.get("email") or None,
                lines=lines,
                discount_code=typed_code or request.session.get(checkout_code_key(shop)) or None,
                shipping=shipping,
                tax_rate=Decimal("0"),
            )
        except DevstoreError as exc:
            messages.error(request, str(exc))
        else:
            request.session.pop(cart_key(shop), None)
            request.session.pop(checkout_code_key(shop), None)
            messages.success(request, f"Order {order} placed: {order.payload['total_price']}.")
            return redirect("devstore:checkout_thank_you", shop.domain, order.id)
    subtotal = sum((v.price * q for v, q in lines), Decimal("0"))
    return render(
        request,
        "devstore/cart.html",
        {
            "shop": shop,
            "lines": [(v, q, v.price * q) for v, q in lines],
            "subtotal": subtotal,
            "customer": customer,
            "customers": DevCustomer.objects.filter(shop=shop)[:200],
            "applied_code": request.session.get(checkout_code_key(shop), ""),
            "extension": _extension_context(request, shop, lines),
        },
    )


# --- the checkout UI extension's stand-in -------------------------------------------------
# The cart/checkout and thank-you pages render a stand-in of Beam's checkout extension that
# makes the same calls to Beam's /ext/ API (extensions/checkout-rewards/src/beam-client.js,
# served as is), with a token minted like the platform's and an "apply code" step that checks
# the code against this cart the way ``applyDiscountCodeChange`` does.

EXTENSION_MODULES = {
    "beam-client.js": ("checkout-rewards", "src", "beam-client.js"),
}


def extension_urls(request: HttpRequest, shop: DevShop) -> dict[str, str]:
    """What every extension stand-in needs: Beam's origin, the client module, the token."""
    return {
        "app_url": request.build_absolute_uri("/").rstrip("/"),
        "module_url": reverse("devstore:extension_module", args=["beam-client.js"]),
        "token_url": reverse("devstore:checkout_extension_token", args=[shop.domain]),
    }


def _extension_context(
    request: HttpRequest, shop: DevShop, lines: list[tuple[DevVariant, int]]
) -> dict[str, object]:
    return {
        **extension_urls(request, shop),
        "apply_url": reverse("devstore:checkout_discount", args=[shop.domain]),
        "cart": [
            {
                "product_id": f"gid://shopify/Product/{v.product.id}",
                "variant_id": str(v.id),  # 64-bit ids never go through JS numbers
                "quantity": q,
                "total": str(v.price * q),
                "gift_card": v.product.gift_card,
            }
            for v, q in lines
        ],
    }


@require_GET
def extension_module(request: HttpRequest, name: str) -> HttpResponse:
    """The extension's own framework-free client module, for the stand-in to import."""
    parts = EXTENSION_MODULES.get(name)
    if parts is None:
        raise Http404("Unknown module")
    path = Path(settings.BASE_DIR) / "extensions" / Path(*parts)
    if not path.is_file():
        raise Http404("Module missing")
    return HttpResponse(path.read_bytes(), content_type="text/javascript; charset=utf-8")


@never_cache
@require_GET
def checkout_extension_token(request: HttpRequest, shop_domain: str) -> JsonResponse:
    """``shopify.sessionToken.get()`` of the stand-in: the buyer is the logged-in customer
    (no ``sub`` for a guest)."""
    shop = shop_or_404(shop_domain)
    customer = logged_in(request, shop)
    token = extension_token_issue(
        shop_domain=shop.domain, customer_id=customer.id if customer else None
    )
    return JsonResponse({"token": token})


@require_POST
def checkout_discount(request: HttpRequest, shop_domain: str) -> JsonResponse:
    """``applyDiscountCodeChange`` of the stand-in: ``{"type": "addDiscountCode"|
    "removeDiscountCode", "code"}`` → ``{"type": "success", ...}`` or ``{"type": "error",
    "message"}``; an accepted code is kept for the order."""
    shop = shop_or_404(shop_domain)
    try:
        change = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"type": "error", "message": "Invalid JSON."}, status=400)
    code = str(change.get("code") or "").strip()
    if change.get("type") == "removeDiscountCode":
        request.session.pop(checkout_code_key(shop), None)
        return JsonResponse({"type": "success", "lines": {}})
    lines = cart_lines(request, shop)
    try:
        preview = services.discount_code_preview(
            shop,
            code=code,
            customer=logged_in(request, shop),
            lines=lines,
            shipping=Decimal("5.00"),
        )
    except DevstoreError as exc:
        return JsonResponse({"type": "error", "message": str(exc)})
    request.session[checkout_code_key(shop)] = preview["code"]
    return JsonResponse(
        {
            "type": "success",
            "code": preview["code"],
            "amount": str(preview["amount"]),
            "lines": {str(k): str(v) for k, v in preview["lines"].items()},
        }
    )


@require_GET
def checkout_thank_you(request: HttpRequest, shop_domain: str, order_id: int) -> HttpResponse:
    """The order confirmation page, with the extension's thank-you block."""
    shop = shop_or_404(shop_domain)
    order = get_object_or_404(DevOrder, shop=shop, id=order_id)
    return render(
        request,
        "devstore/thank_you.html",
        {
            "shop": shop,
            "order": order,
            "order_gid": f"gid://shopify/Order/{order.id}",
            "extension": extension_urls(request, shop),
        },
    )
