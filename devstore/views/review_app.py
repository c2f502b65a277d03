"""The simulated review app's page: connect it with Beam's API key, write and delete
reviews (signed webhooks to Beam), and fire custom actions (a replayed key awards once)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from devstore.errors import DevstoreError
from devstore.models import DevCustomer, DevProduct, DevReview, DevReviewApp
from devstore.services.review_app import (
    custom_action_fire,
    review_app_connect,
    review_delete,
    review_write,
)
from devstore.views.common import shop_or_404


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


@require_http_methods(["GET", "POST"])
def review_app(request: HttpRequest, shop_domain: str) -> HttpResponse:
    shop = shop_or_404(shop_domain)
    if request.method == "POST":
        post = request.POST
        try:
            what = post.get("do")
            if what == "connect":
                review_app_connect(shop, post.get("api_key", ""))
                messages.success(request, "Review app connected to Beam.")
            elif what == "review":
                customer = get_object_or_404(DevCustomer, shop=shop, id=_int(post.get("customer")))
                product = get_object_or_404(DevProduct, shop=shop, id=_int(post.get("product")))
                review = review_write(
                    shop,
                    customer,
                    product,
                    rating=_int(post.get("rating")),
                    has_photo=post.get("has_photo") == "on",
                )
                messages.success(request, f"Review {review.review_id}: {review.last_response}")
            elif what == "delete":
                review = get_object_or_404(DevReview, shop=shop, id=_int(post.get("review")))
                review_delete(review)
                messages.success(request, f"Review {review.review_id}: {review.last_response}")
            elif what == "action":
                customer = get_object_or_404(DevCustomer, shop=shop, id=_int(post.get("customer")))
                key = post.get("idempotency_key", "").strip() or uuid.uuid4().hex
                said = custom_action_fire(
                    shop, customer, action=post.get("action", "").strip(), idempotency_key=key
                )
                request.session["devstore_last_action_key"] = key
                messages.success(request, f"Custom action (key {key}): {said}")
        except DevstoreError as exc:
            messages.error(request, str(exc))
        return redirect("devstore:review_app", shop.domain)
    context = {
        "shop": shop,
        "connected": DevReviewApp.objects.filter(shop=shop).exists(),
        "customers": DevCustomer.objects.filter(shop=shop).order_by("-created_at")[:200],
        "products": DevProduct.objects.filter(shop=shop, gift_card=False)[:200],
        "reviews": DevReview.objects.filter(shop=shop)
        .select_related("customer", "product")
        .order_by("-pk")[:100],
        "last_key": request.session.get("devstore_last_action_key", ""),
    }
    return render(request, "devstore/review_app.html", context)
