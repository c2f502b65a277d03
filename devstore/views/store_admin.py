"""The store admin's pages: orders and their actions, customers, discounts, the webhook log and
the uninstall button."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devstore import services
from devstore.errors import DevstoreError
from devstore.models import DevCustomer, DevMetafield, DevOrder, DevWebhookLog
from devstore.views.common import shop_or_404
from devstore.webhooks import webhooks_release_held, webhooks_retry_failed


@require_GET
def orders(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = shop_or_404(shop_domain)
    rows = DevOrder.objects.filter(shop=shop).select_related("customer").order_by("-created_at")
    return render(request, "devstore/orders.html", {"shop": shop, "orders": rows[:100]})


@require_POST
def order_action(
    request: HttpRequest, shop_domain: str, order_id: int, action: str
) -> HttpResponse:
    shop = shop_or_404(shop_domain)
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
    shop = shop_or_404(shop_domain)
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
    rows = list(DevCustomer.objects.filter(shop=shop).order_by("-created_at")[:200])
    # The customers' metafields (what apps wrote: Beam's tier), "namespace.key: value".
    fields: dict[str, list[str]] = {}
    for owner, namespace, key, value in (
        DevMetafield.objects.filter(shop=shop, owner_gid__in=[c.gid for c in rows])
        .order_by("namespace", "key")
        .values_list("owner_gid", "namespace", "key", "value")
    ):
        fields.setdefault(owner, []).append(f"{namespace}.{key}: {value[:80]}")
    for customer in rows:
        customer.metafield_lines = fields.get(customer.gid, [])  # type: ignore[attr-defined]
    return render(request, "devstore/customers.html", {"shop": shop, "customers": rows})


@require_POST
def customer_email_consent(
    request: HttpRequest, shop_domain: str, customer_id: int
) -> HttpResponse:
    """Toggle the customer's email marketing consent (sends ``customers/update``)."""
    shop = shop_or_404(shop_domain)
    customer = get_object_or_404(DevCustomer, shop=shop, id=customer_id)
    customer = services.customer_email_consent_toggle(customer)
    state = customer.email_marketing_state
    messages.success(request, f"{customer.email}: email marketing {state}.")
    return redirect("devstore:customers", shop.domain)


@require_GET
def discounts(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = shop_or_404(shop_domain)
    rows = shop.discount_codes.filter(deleted_at__isnull=True).order_by("-created_at")[:200]
    return render(request, "devstore/discounts.html", {"shop": shop, "codes": rows})


@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = shop_or_404(shop_domain)
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
