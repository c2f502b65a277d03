"""Customers: search, one member's ledger and codes, adjustments, CSV import and export."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from loyalty import services
from loyalty.admin_words import ledger_lines
from loyalty.errors import (
    InsufficientPoints,
    InvalidAdjustment,
    RedemptionNotCancellable,
)
from loyalty.forms import (
    AdjustPointsForm,
    ImportApplyForm,
    ImportUploadForm,
)
from loyalty.models import Member
from loyalty.selectors import (
    ledger_export_csv,
    member_get,
    member_ledger,
    member_redemptions,
    members_export_csv,
)
from loyalty.services.adjustments import CUSTOMER_ID_MAX
from merchants.auth import embedded_admin_required
from merchants.errors import ShopifyApiError
from merchants.models import Shop
from merchants.staff import staff_names
from merchants.views.pages import (
    admin_page,
    admin_partial,
    in_shop_timezone,
    page_links,
    request_shop,
    staff_actor,
)

MEMBERS_PER_PAGE = 25
LEDGER_PER_PAGE = 50


def _member_search(shop: Shop, q: str) -> Any:
    qs = Member.objects.filter(shop=shop, redacted=False)
    q = q.strip()
    if q:
        cond = Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
        first, _, last = q.partition(" ")
        if last:
            cond |= Q(first_name__icontains=first, last_name__icontains=last.strip())
        if q.isascii() and q.isdigit() and int(q) <= CUSTOMER_ID_MAX:
            cond |= Q(customer_id=int(q))
        qs = qs.filter(cond)
    return qs.only(
        "pk",
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "balance",
        "lifetime_earned",
        "last_activity_at",
    ).order_by("-last_activity_at", "-pk")


@embedded_admin_required
@in_shop_timezone
@require_safe
def customers(request: HttpRequest) -> HttpResponse:
    """Members with balance, lifetime points and last activity; search by email or name."""
    shop = request_shop(request)
    q = request.GET.get("q", "").replace("\x00", "")[:200]  # no column holds a NUL
    page = Paginator(_member_search(shop, q), MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "pages": page_links(page, reverse("loyalty_admin:customers"), q=q),
    }
    if getattr(request, "htmx", None) and request.headers.get("HX-Target") == "beam-members":
        return admin_partial(request, "loyalty/customers.html#members", context)
    return admin_page(request, "loyalty/customers.html", context)


def _member_or_404(shop: Shop, member_id: int) -> Member:
    member = member_get(shop=shop, member_id=member_id)
    if member is None:
        raise Http404("No such customer.")
    return member


def _customer_page(
    request: HttpRequest,
    member: Member,
    *,
    form: AdjustPointsForm | None = None,
    status: int = 200,
    toast: str | None = None,
    error: str = "",
) -> HttpResponse:
    shop = request_shop(request)
    ledger = Paginator(member_ledger(shop=shop, member=member), LEDGER_PER_PAGE).get_page(
        request.GET.get("page")
    )
    entries = list(ledger.object_list)
    names = staff_names(shop=shop, user_ids={e.actor for e in entries})
    full_name = f"{member.first_name} {member.last_name}".strip()
    context = {
        "member": member,
        "title": full_name or f"Customer {member.customer_id}",
        "ledger": ledger,
        "ledger_pages": page_links(
            ledger, reverse("loyalty_admin:customer_detail", args=[member.pk])
        ),
        "ledger_rows": ledger_lines(entries, names),
        "redemptions": member_redemptions(shop=shop, member=member),
        "form": form or AdjustPointsForm(),
        "error": error,
    }
    return admin_page(request, "loyalty/customer_detail.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_safe
def customer_detail(request: HttpRequest, member_id: int) -> HttpResponse:
    """One member: balance, the full ledger, redemptions and their codes."""
    return _customer_page(request, _member_or_404(request_shop(request), member_id))


@embedded_admin_required
@in_shop_timezone
@require_POST
def customer_adjust(request: HttpRequest, member_id: int) -> HttpResponse:
    """Add or deduct points with a required reason (idempotent per form render)."""
    shop = request_shop(request)
    member = _member_or_404(shop, member_id)
    form = AdjustPointsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.member_points_adjust(
                shop=shop,
                member=member,
                amount=data["amount"],
                reason=data["reason"],
                actor=staff_actor(request),
                idempotency_key=f"admin:{member.pk}:{data['idempotency_key']}",
            )
        except InsufficientPoints as exc:
            form.add_error("amount", f"Not enough points to deduct: {exc}")
        except InvalidAdjustment as exc:
            form.add_error(None, str(exc))
        else:
            member.refresh_from_db()
            return _customer_page(request, member, toast=f"{entry.amount:+d} points recorded")
    return _customer_page(request, member, form=form, status=422)


@embedded_admin_required
@in_shop_timezone
@require_POST
def redemption_cancel(request: HttpRequest, member_id: int, redemption_id: int) -> HttpResponse:
    """Deactivate an unused code and give the points back."""
    shop = request_shop(request)
    member = _member_or_404(shop, member_id)
    if not member.redemptions.filter(pk=redemption_id, shop=shop).exists():
        raise Http404("No such redemption.")
    try:
        services.redemption_cancel_audited(
            shop=shop, redemption_id=redemption_id, actor=staff_actor(request)
        )
    except RedemptionNotCancellable as exc:
        return _customer_page(request, member, status=409, error=str(exc))
    except ShopifyApiError:
        return _customer_page(
            request, member, status=502, error="The store did not answer; try again."
        )
    member.refresh_from_db()
    return _customer_page(request, member, toast="Code cancelled, points refunded")


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def customers_import(request: HttpRequest) -> HttpResponse:
    """Step 1: upload a CSV and see, row by row, what importing it would do."""
    shop = request_shop(request)
    upload = ImportUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    context: dict[str, Any] = {"upload": upload}
    if request.method == "POST" and upload.is_valid():
        csv_text = upload.cleaned_data["file"]
        rows = services.members_import_preview(shop=shop, csv_text=csv_text)
        counts: dict[str, int] = defaultdict(int)
        for row in rows:
            counts[row.outcome] += 1
        context.update(
            rows=rows,
            counts=dict(counts),
            apply=ImportApplyForm(initial={"csv_text": csv_text}),
            appliable=any(r.outcome != "error" for r in rows),
        )
    status = 422 if upload.errors else 200
    return admin_page(request, "loyalty/customers_import.html", context, status=status)


@embedded_admin_required
@in_shop_timezone
@require_POST
def customers_import_apply(request: HttpRequest) -> HttpResponse:
    """Step 2: import the previewed file. Re-importing the same file changes nothing."""
    shop = request_shop(request)
    form = ImportApplyForm(request.POST)
    if not form.is_valid():
        context: dict[str, Any] = {"upload": ImportUploadForm(), "apply_errors": form.errors}
        return admin_page(request, "loyalty/customers_import.html", context, status=422)
    report = services.members_import_audited(
        shop=shop, csv_text=form.cleaned_data["csv_text"], actor=staff_actor(request)
    )
    context = {"upload": ImportUploadForm(), "report": report}
    return admin_page(
        request,
        "loyalty/customers_import.html",
        context,
        toast=f"Imported: {report.created} new, {report.changed} changed",
    )


def _csv_response(filename: str, write: Any, shop: Shop) -> HttpResponse:
    """A CSV attachment. The export links are ``a[download]``: ``static/beam/navigation.js``
    fetches them with the session token in the Authorization header (as htmx does) and saves
    the answer, so a download works in the platform's iframe without a token in any URL (a
    plain navigation would carry no token and download the bounce page)."""
    buffer = io.StringIO()
    write(shop=shop, out=buffer)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@embedded_admin_required
@in_shop_timezone
@require_safe
def export_members(request: HttpRequest) -> HttpResponse:
    shop = request_shop(request)
    return _csv_response(f"{shop.domain}-members.csv", members_export_csv, shop)


@embedded_admin_required
@in_shop_timezone
@require_safe
def export_ledger(request: HttpRequest) -> HttpResponse:
    shop = request_shop(request)
    return _csv_response(f"{shop.domain}-ledger.csv", ledger_export_csv, shop)
