"""HTTP face of the devstore: the platform endpoints Beam calls (OAuth, Admin GraphQL), the
admin frame that embeds Beam, the app proxy, and small pages for a person to shop with."""

from __future__ import annotations

import json
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devstore import services, theme_embed
from devstore.errors import DevstoreError, OAuthError
from devstore.graphql import graphql_request
from devstore.models import DevCustomer, DevOrder, DevShop, DevVariant, DevWebhookLog
from devstore.oauth import (
    access_token_lookup,
    admin_host_param,
    authorize_redirect,
    extension_token_issue,
    signed_query,
    token_grant,
)
from devstore.signing import app_proxy_signature
from devstore.webhooks import webhooks_release_held, webhooks_retry_failed
from merchants.domains import shop_domain_is_valid

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
PROXY_RESERVED = {"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}


def _shop(domain: str) -> DevShop:
    if not shop_domain_is_valid(domain):
        raise Http404("Not a shop domain")
    return get_object_or_404(DevShop, domain=domain.lower())


def _customer_key(shop: DevShop) -> str:
    return f"devstore_customer:{shop.domain}"


def _cart_key(shop: DevShop) -> str:
    return f"devstore_cart:{shop.domain}"


def _logged_in(request: HttpRequest, shop: DevShop) -> DevCustomer | None:
    customer_id = request.session.get(_customer_key(shop))
    if not customer_id:
        return None
    return DevCustomer.objects.filter(shop=shop, id=customer_id).first()


def _checkout_code_key(shop: DevShop) -> str:
    return f"devstore_checkout_code:{shop.domain}"


def _launcher_path() -> Path:
    return Path(settings.BASE_DIR) / "extensions" / "beam-theme" / "assets"


# --- index and platform endpoints ---------------------------------------------------------


@require_GET
def shop_list(request: HttpRequest) -> HttpResponse:
    return render(request, "devstore/index.html", {"shops": DevShop.objects.all()})


@require_http_methods(["GET", "POST"])
def oauth_authorize(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The install-consent screen: shows an Install button, then redirects to the app."""
    shop = _shop(shop_domain)
    source = request.POST if request.method == "POST" else request.GET
    client_id = source.get("client_id", "")
    redirect_uri = source.get("redirect_uri", "")
    if client_id != settings.SHOPIFY_API_KEY:
        return HttpResponseBadRequest("Oauth error invalid_request: The client_id is unknown.")
    app = urlsplit(settings.SHOPIFY_APP_URL)
    target = urlsplit(redirect_uri)
    if (target.scheme, target.netloc) != (app.scheme, app.netloc):
        return HttpResponseBadRequest(
            "Oauth error invalid_request: The redirect_uri is not whitelisted"
        )
    scope = source.get("scope", "")
    state = source.get("state", "")
    if request.method == "POST":
        return HttpResponseRedirect(
            authorize_redirect(shop, scope=scope, redirect_uri=redirect_uri, state=state)
        )
    context = {
        "shop": shop,
        "client_id": client_id,
        "scope": scope,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return render(request, "devstore/authorize.html", context)


@csrf_exempt
@require_POST
def oauth_access_token(request: HttpRequest, shop_domain: str) -> JsonResponse:
    shop = _shop(shop_domain)
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"error": "invalid_request"}, status=400)
    else:
        body = request.POST.dict()
    if not isinstance(body, dict):
        return JsonResponse({"error": "invalid_request"}, status=400)
    try:
        return JsonResponse(token_grant(shop, body))
    except OAuthError as exc:
        return JsonResponse(exc.body, status=exc.status)


@require_GET
def admin_app_frame(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The store admin with Beam embedded, loaded like a managed install (``id_token``)."""
    shop = _shop(shop_domain)
    params = {
        "embedded": "1",
        "host": admin_host_param(shop),
        "id_token": services.session_token_issue(shop_domain=shop.domain),
        "shop": shop.domain,
        "timestamp": str(int(time.time())),
    }
    src = f"{settings.SHOPIFY_APP_URL}/?{signed_query(params)}"
    return render(request, "devstore/admin_frame.html", {"shop": shop, "app_src": src})


@never_cache
@require_GET
def admin_session_token(request: HttpRequest, shop_domain: str) -> JsonResponse:
    """A fresh session token, for the App Bridge stand-in inside the embedded app."""
    shop = _shop(shop_domain)
    response = JsonResponse({"token": services.session_token_issue(shop_domain=shop.domain)})
    response["Access-Control-Allow-Origin"] = settings.SHOPIFY_APP_URL or "*"
    return response


@csrf_exempt
@require_POST
def admin_graphql(request: HttpRequest, shop_domain: str, version: str) -> JsonResponse:
    shop = _shop(shop_domain)
    if access_token_lookup(shop, request.headers.get("X-Shopify-Access-Token", "")) is None:
        return JsonResponse({"errors": INVALID_TOKEN}, status=401)
    try:
        body = json.loads(request.body or b"")
    except ValueError:
        return JsonResponse({"errors": "Invalid JSON in request body"}, status=400)
    status, answer, headers = graphql_request(shop, body)
    response = JsonResponse(answer, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def app_proxy(request: HttpRequest, shop_domain: str, path: str) -> HttpResponse:
    """Forward to Beam's proxy endpoint with the signed parameters the platform adds."""
    shop = _shop(shop_domain)
    customer = _logged_in(request, shop)
    params = [
        (key, value)
        for key, values in request.GET.lists()
        if key not in PROXY_RESERVED
        for value in values
    ]
    params += [
        ("shop", shop.domain),
        ("logged_in_customer_id", str(customer.id) if customer else ""),
        ("path_prefix", settings.SHOPIFY_APP_PROXY_PREFIX),
        ("timestamp", str(int(time.time()))),
    ]
    params.append(("signature", app_proxy_signature(params, settings.SHOPIFY_API_SECRET)))
    headers = {"Accept": request.headers.get("Accept", "*/*"), "User-Agent": "Shopify App Proxy"}
    if request.headers.get("If-None-Match"):
        headers["If-None-Match"] = request.headers["If-None-Match"]
    if request.method == "POST":
        headers["Content-Type"] = request.headers.get("Content-Type", "application/octet-stream")
    try:
        upstream = requests.request(
            request.method or "GET",
            f"{settings.SHOPIFY_APP_URL}/proxy/{path}",
            params=params,
            data=request.body if request.method == "POST" else None,
            headers=headers,
            timeout=settings.SHOPIFY_HTTP_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return HttpResponse(f"App proxy error: {exc}", status=502, content_type="text/plain")
    content_type = upstream.headers.get("Content-Type", "text/plain")
    if content_type.startswith("application/liquid"):
        return render(
            request,
            "devstore/proxy_page.html",
            {"shop": shop, "customer": customer, "body": mark_safe(upstream.text)},  # noqa: S308
            status=upstream.status_code,
        )
    response = HttpResponse(
        upstream.content, status=upstream.status_code, content_type=content_type
    )
    for name in ("Location", "ETag", "Cache-Control", "Retry-After"):
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    return response


@require_GET
def theme_asset(request: HttpRequest, path: str) -> FileResponse:
    """Serve the theme extension's assets (what a theme app embed would load)."""
    root = _launcher_path().resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise Http404("No such asset")
    return FileResponse(target.open("rb"))


# --- pages for a person ---------------------------------------------------------------------


def _theme_context(request: HttpRequest, shop: DevShop) -> dict:
    """What every storefront page shares: the shopper and the theme app embed (the launcher
    as ``blocks/launcher-embed.liquid`` renders it; ``?launcher=0`` leaves it out, ``?locale=``
    picks the storefront language)."""
    customer = _logged_in(request, shop)
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
    shop = _shop(shop_domain)
    variants = DevVariant.objects.filter(product__shop=shop).select_related("product")
    context = {**_theme_context(request, shop), "variants": variants}
    return render(request, "devstore/storefront.html", context)


@require_GET
def product(request: HttpRequest, shop_domain: str, variant_id: int) -> HttpResponse:
    """A product page with the product-points app block under the price."""
    shop = _shop(shop_domain)
    variant = get_object_or_404(
        DevVariant.objects.select_related("product"), product__shop=shop, id=variant_id
    )
    context = {
        **_theme_context(request, shop),
        "variant": variant,
        "product_points": theme_embed.product_points(shop, variant.price),
    }
    return render(request, "devstore/product.html", context)


@require_GET
def account(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The customer account page with the account-points app block (log in/out here too)."""
    shop = _shop(shop_domain)
    context = _theme_context(request, shop)
    customer = context["customer"]
    context["account_points"] = theme_embed.account_points(shop, customer) if customer else None
    return render(request, "devstore/account.html", context)


@require_GET
def discount_apply(request: HttpRequest, shop_domain: str, code: str) -> HttpResponse:
    """``/discount/CODE?redirect=/cart``: remember the code for checkout, then redirect
    (within the store only)."""
    shop = _shop(shop_domain)
    request.session[_checkout_code_key(shop)] = code.strip()[:64]
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
    shop = _shop(shop_domain)
    customer_id = request.POST.get("customer_id", "")
    if customer_id.isdigit() and DevCustomer.objects.filter(shop=shop, id=customer_id).exists():
        request.session[_customer_key(shop)] = int(customer_id)
    else:
        request.session.pop(_customer_key(shop), None)
    return redirect(request.POST.get("next") or reverse("devstore:storefront", args=[shop.domain]))


@require_POST
def cart_add(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = _shop(shop_domain)
    variant_id = request.POST.get("variant_id", "")
    if (
        not variant_id.isdigit()
        or not DevVariant.objects.filter(product__shop=shop, id=variant_id).exists()
    ):
        return HttpResponseBadRequest("Unknown variant")
    cart = request.session.get(_cart_key(shop), {})
    cart[variant_id] = cart.get(variant_id, 0) + 1
    request.session[_cart_key(shop)] = cart
    return redirect("devstore:cart", shop.domain)


def _cart_lines(request: HttpRequest, shop: DevShop) -> list[tuple[DevVariant, int]]:
    cart = request.session.get(_cart_key(shop), {})
    variants = DevVariant.objects.filter(product__shop=shop, id__in=[int(k) for k in cart])
    by_id = {v.id: v for v in variants.select_related("product")}
    return [(by_id[int(k)], qty) for k, qty in cart.items() if int(k) in by_id]


@require_http_methods(["GET", "POST"])
def cart(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The cart and checkout form; POST places the order."""
    shop = _shop(shop_domain)
    lines = _cart_lines(request, shop)
    customer = _logged_in(request, shop)
    if request.method == "POST":
        if request.POST.get("clear"):
            request.session.pop(_cart_key(shop), None)
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
                discount_code=typed_code or request.session.get(_checkout_code_key(shop)) or None,
                shipping=shipping,
                tax_rate=Decimal("0"),
            )
        except DevstoreError as exc:
            messages.error(request, str(exc))
        else:
            request.session.pop(_cart_key(shop), None)
            request.session.pop(_checkout_code_key(shop), None)
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
            "applied_code": request.session.get(_checkout_code_key(shop), ""),
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


def _extension_context(
    request: HttpRequest, shop: DevShop, lines: list[tuple[DevVariant, int]]
) -> dict[str, object]:
    return {
        "app_url": request.build_absolute_uri("/").rstrip("/"),
        "module_url": reverse("devstore:extension_module", args=["beam-client.js"]),
        "token_url": reverse("devstore:checkout_extension_token", args=[shop.domain]),
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
    shop = _shop(shop_domain)
    customer = _logged_in(request, shop)
    token = extension_token_issue(
        shop_domain=shop.domain, customer_id=customer.id if customer else None
    )
    return JsonResponse({"token": token})


@require_POST
def checkout_discount(request: HttpRequest, shop_domain: str) -> JsonResponse:
    """``applyDiscountCodeChange`` of the stand-in: ``{"type": "addDiscountCode"|
    "removeDiscountCode", "code"}`` → ``{"type": "success", ...}`` or ``{"type": "error",
    "message"}``; an accepted code is kept for the order."""
    shop = _shop(shop_domain)
    try:
        change = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"type": "error", "message": "Invalid JSON."}, status=400)
    code = str(change.get("code") or "").strip()
    if change.get("type") == "removeDiscountCode":
        request.session.pop(_checkout_code_key(shop), None)
        return JsonResponse({"type": "success", "lines": {}})
    lines = _cart_lines(request, shop)
    try:
        preview = services.discount_code_preview(
            shop,
            code=code,
            customer=_logged_in(request, shop),
            lines=lines,
            shipping=Decimal("5.00"),
        )
    except DevstoreError as exc:
        return JsonResponse({"type": "error", "message": str(exc)})
    request.session[_checkout_code_key(shop)] = preview["code"]
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
    shop = _shop(shop_domain)
    order = get_object_or_404(DevOrder, shop=shop, id=order_id)
    return render(
        request,
        "devstore/thank_you.html",
        {
            "shop": shop,
            "order": order,
            "order_gid": f"gid://shopify/Order/{order.id}",
            "extension": {
                "app_url": request.build_absolute_uri("/").rstrip("/"),
                "module_url": reverse("devstore:extension_module", args=["beam-client.js"]),
                "token_url": reverse("devstore:checkout_extension_token", args=[shop.domain]),
            },
        },
    )


@require_GET
def orders(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = _shop(shop_domain)
    rows = DevOrder.objects.filter(shop=shop).select_related("customer").order_by("-created_at")
    return render(request, "devstore/orders.html", {"shop": shop, "orders": rows[:100]})


@require_POST
def order_action(
    request: HttpRequest, shop_domain: str, order_id: int, action: str
) -> HttpResponse:
    shop = _shop(shop_domain)
    order = get_object_or_404(DevOrder, shop=shop, id=order_id)
    try:
        if action == "pay":
            services.order_pay(order)
        elif action == "fulfill":
            services.order_fulfill(order)
        elif action == "cancel":
            services.order_cancel(order)
        elif action == "refund":
            done: dict[int, int] = {}
            for refund in order.payload["refunds"]:
                for item in refund["refund_line_items"]:
                    done[item["line_item_id"]] = (
                        done.get(item["line_item_id"], 0) + item["quantity"]
                    )
            lines = [
                (item["id"], item["quantity"] - done.get(item["id"], 0))
                for item in order.payload["line_items"]
                if item["quantity"] > done.get(item["id"], 0)
            ][:1]
            services.order_refund(order, [(lines[0][0], 1)] if lines else [], note="Refund")
        else:
            raise Http404("Unknown action")
        messages.success(request, f"{action.title()}: {order} done.")
    except DevstoreError as exc:
        messages.error(request, str(exc))
    return redirect("devstore:orders", shop.domain)


@require_http_methods(["GET", "POST"])
def customers(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = _shop(shop_domain)
    if request.method == "POST":
        email = request.POST.get("email", "").strip()
        if "@" not in email:
            messages.error(request, "An email address is needed.")
        else:
            services.customer_create(
                shop, email, request.POST.get("first_name", ""), request.POST.get("last_name", "")
            )
            messages.success(request, f"Customer {email} created.")
        return redirect("devstore:customers", shop.domain)
    rows = DevCustomer.objects.filter(shop=shop).order_by("-created_at")[:200]
    return render(request, "devstore/customers.html", {"shop": shop, "customers": rows})


@require_GET
def discounts(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = _shop(shop_domain)
    rows = shop.discount_codes.filter(deleted_at__isnull=True).order_by("-created_at")[:200]
    return render(request, "devstore/discounts.html", {"shop": shop, "codes": rows})


@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = _shop(shop_domain)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "retry":
            sent = webhooks_retry_failed(shop)
            messages.success(request, f"Retried {len(sent)} deliveries.")
        elif action == "release":
            sent = webhooks_release_held(shop, shuffle=True)
            messages.success(request, f"Released {len(sent)} held deliveries.")
        elif action == "uninstall":
            services.app_uninstall(shop)
            messages.success(request, "App uninstalled.")
        return redirect("devstore:webhooks", shop.domain)
    logs = DevWebhookLog.objects.filter(shop=shop).order_by("-id")[:200]
    return render(request, "devstore/webhooks.html", {"shop": shop, "logs": logs})
