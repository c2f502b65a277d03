"""Customers: search (and filter by tier), one member's ledger, codes and tier,
adjustments, a tier set by hand or granted, CSV import and export."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from loyalty import services
from loyalty.admin_words import ledger_lines, tier_amount, tier_history_lines
from loyalty.audit import AuditRecord
from loyalty.errors import (
    InsufficientPoints,
    InvalidAdjustment,
    InvalidTiers,
    RedemptionNotCancellable,
)
from loyalty.forms import (
    AdjustPointsForm,
    ImportApplyForm,
    ImportUploadForm,
)
from loyalty.forms_member_tiers import NO_TIER, TierGrantForm, TierSetForm
from loyalty.models import Member, Tier, TierChange, TierSettings
from loyalty.rules.tiers import TierRules
from loyalty.selectors import (
    MemberTierSummary,
    ledger_export_csv,
    member_get,
    member_ledger,
    member_redemptions,
    member_tier_history,
    member_tier_summary,
    members_export_csv,
)
from loyalty.services.adjustments import CUSTOMER_ID_MAX
from loyalty.services.tier_grants import tier_grant, tier_manual_set
from loyalty.services.tiers import member_tier_state, tier_rules_load
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
TIERS_OFF = "Tiers are off: turn them on in the VIP tiers settings first."
LEDGER_PER_PAGE = 50
TIER_HISTORY_PER_PAGE = 50
TIER_HISTORY_LIST = "beam-tier-history-list"


def _member_search(shop: Shop, q: str, tier: str = "") -> Any:
    qs = Member.objects.filter(shop=shop, redacted=False)
    if tier == NO_TIER:
        qs = qs.filter(tier__isnull=True)
    elif tier:
        qs = qs.filter(tier_id=int(tier))
    q = q.strip()
    if q:
        cond = Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
        first, _, last = q.partition(" ")
        if last:
            cond |= Q(first_name__icontains=first, last_name__icontains=last.strip())
        if q.isascii() and q.isdigit() and int(q) <= CUSTOMER_ID_MAX:
            cond |= Q(customer_id=int(q))
        qs = qs.filter(cond)
    return (
        qs.only(
            "pk",
            "customer_id",
            "email",
            "first_name",
            "last_name",
            "balance",
            "lifetime_earned",
            "last_activity_at",
            "tier__name",
        )
        .select_related("tier")
        .order_by("-last_activity_at", "-pk")
    )


def _tiers_shown(shop: Shop) -> list[Tier]:
    """The active tiers while tiers are on (1 query; empty while they are off): the list's
    Tier column and its filter."""
    return list(
        Tier.objects.filter(shop=shop, active=True, settings__enabled=True)
        .only("pk", "name")
        .order_by("-rank", "-pk")
    )


@embedded_admin_required
@in_shop_timezone
@require_safe
def customers(request: HttpRequest) -> HttpResponse:
    """Members with balance, lifetime points, last activity and (while tiers are on) their
    tier; search by email or name, filter by tier."""
    shop = request_shop(request)
    q = request.GET.get("q", "").replace("\x00", "")[:200]  # no column holds a NUL
    tiers = _tiers_shown(shop)
    tier = request.GET.get("tier", "")
    if tier not in {NO_TIER, *(str(t.pk) for t in tiers)}:
        tier = ""  # tiers off, an archived tier or another shop's: no filter
    members = _member_search(shop, q, tier)
    page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "tiers": tiers,
        "tier": tier,
        "no_tier": NO_TIER,
        "tier_label": "No tier"
        if tier == NO_TIER
        else next((t.name for t in tiers if str(t.pk) == tier), "All tiers"),
        "pages": page_links(page, reverse("loyalty_admin:customers"), q=q, tier=tier),
    }
    if getattr(request, "htmx", None) and request.headers.get("HX-Target") == "beam-members":
        return admin_partial(request, "loyalty/customers.html#members", context)
    return admin_page(request, "loyalty/customers.html", context)


def _member_or_404(shop: Shop, member_id: int) -> Member:
    member = member_get(shop=shop, member_id=member_id)
    if member is None:
        raise Http404("No such customer.")
    return member


WINDOW_WORDS: dict[str, str] = {
    TierSettings.Window.LIFETIME: "since the program started",
    TierSettings.Window.CALENDAR_YEAR: "this calendar year",
}


def _window_words(rules: TierRules) -> str:
    return WINDOW_WORDS.get(rules.window, f"in the last {rules.window_months} months")


def _last_day(end: datetime | None) -> datetime | None:
    """The last moment a tier ending at ``end`` holds (an end at midnight reads as the day
    before: "until 31 Dec", not "until 1 Jan")."""
    return end - timedelta(microseconds=1) if end else None


def _tier_card(shop: Shop, member: Member, summary: MemberTierSummary) -> dict[str, Any]:
    """The Tier card's figures in the merchant's words: the value and what the next tier
    needs in the metric's unit, and the last day the tier in effect holds (an end at
    midnight is the day before's end)."""
    rules, following = summary.rules, summary.following
    earned = rules.by_id(member.earned_tier_id)
    return {
        "current": summary.current,
        "granted": summary.granted,
        "until": summary.until,
        "last_day": _last_day(summary.until),
        "earned": earned,
        "earned_until": member.tier_expires_at,
        "earned_last_day": _last_day(member.tier_expires_at),
        "value": tier_amount(summary.value, rules.metric, shop),
        "window": _window_words(rules),
        "next": following,
        "next_threshold": tier_amount(following.threshold, rules.metric, shop) if following else "",
        "next_remaining": tier_amount(following.threshold - summary.value, rules.metric, shop)
        if following
        else "",
    }


def _tier_history_page(request: HttpRequest, shop: Shop, member: Member) -> Page[TierChange]:
    """One page of the member's tier history, newest first (``?tier_page=``: the ledger
    beside it has its own ``?page=``)."""
    paginator = Paginator(member_tier_history(shop=shop, member=member), TIER_HISTORY_PER_PAGE)
    return paginator.get_page(request.GET.get("tier_page"))


def _tier_history_context(
    member: Member, history: Page[TierChange], changes: list[TierChange], names: dict[str, str]
) -> dict[str, Any]:
    """The Tier history list's rows and its Newer/Older links (``changes``: the page's rows,
    ``names``: the staff who made them)."""
    path = reverse("loyalty_admin:customer_detail", args=[member.pk])
    return {
        "tier_rows": tier_history_lines(changes, names),
        "tier_history": history,
        "tier_history_pages": page_links(history, path, page_param="tier_page"),
    }


def _tier_history_partial(request: HttpRequest, member: Member) -> HttpResponse:
    """The Tier history list alone, for its Newer/Older links (htmx swaps just the list)."""
    shop = request_shop(request)
    history = _tier_history_page(request, shop, member)
    changes = list(history.object_list)
    names = staff_names(shop=shop, user_ids={c.actor for c in changes})
    context = {"member": member, **_tier_history_context(member, history, changes, names)}
    return admin_partial(request, "loyalty/customer_detail.html#tier_history", context)


def customer_page(
    request: HttpRequest,
    member: Member,
    *,
    form: AdjustPointsForm | None = None,
    tier_set_form: TierSetForm | None = None,
    tier_grant_form: TierGrantForm | None = None,
    status: int = 200,
    toast: str | None = None,
    error: str = "",
) -> HttpResponse:
    """The customer page; a form given is shown as submitted (with its errors)."""
    shop = request_shop(request)
    ledger = Paginator(member_ledger(shop=shop, member=member), LEDGER_PER_PAGE).get_page(
        request.GET.get("page")
    )
    entries = list(ledger.object_list)
    summary = member_tier_summary(
        shop=shop, member_id=member.pk, tier_id=member.tier_id, state=member_tier_state(member)
    )
    history = _tier_history_page(request, shop, member) if summary else None
    changes = list(history.object_list) if history else []
    names = staff_names(shop=shop, user_ids={e.actor for e in entries} | {c.actor for c in changes})
    full_name = f"{member.first_name} {member.last_name}".strip()
    context = {
        "member": member,
        "title": full_name or member.email or f"Customer {member.customer_id}",
        "ledger": ledger,
        "ledger_pages": page_links(
            ledger, reverse("loyalty_admin:customer_detail", args=[member.pk])
        ),
        "ledger_rows": ledger_lines(entries, names),
        "redemptions": member_redemptions(shop=shop, member=member),
        "form": form or AdjustPointsForm(),
        "error": error,
    }
    if summary is not None:
        tiers = summary.rules.tiers
        assert history is not None
        context.update(
            _tier_history_context(member, history, changes, names),
            tier=_tier_card(shop, member, summary),
            tier_set_form=tier_set_form
            or TierSetForm(tiers=tiers, initial={"tier": member.earned_tier_id or NO_TIER}),
            tier_grant_form=tier_grant_form
            or TierGrantForm(tiers=tiers, initial={"tier": tiers[-1].tier_id}),
        )
    return admin_page(request, "loyalty/customer_detail.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_safe
def customer_detail(request: HttpRequest, member_id: int) -> HttpResponse:
    """One member: balance, the full ledger, redemptions and their codes, the tier and its
    history (each list paged on its own)."""
    member = _member_or_404(request_shop(request), member_id)
    if getattr(request, "htmx", None) and request.headers.get("HX-Target") == TIER_HISTORY_LIST:
        return _tier_history_partial(request, member)
    return customer_page(request, member)


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
            return customer_page(request, member, toast=f"{entry.amount:+d} points recorded")
    return customer_page(request, member, form=form, status=422)


@embedded_admin_required
@in_shop_timezone
@require_POST
def customer_tier_set(request: HttpRequest, member_id: int) -> HttpResponse:
    """Set the tier the member earned by hand, with a required reason (audited; idempotent
    per form render)."""
    shop = request_shop(request)
    member = _member_or_404(shop, member_id)
    rules = tier_rules_load(shop=shop)
    if rules is None:
        return customer_page(request, member, status=409, error=TIERS_OFF)
    form = TierSetForm(request.POST, tiers=rules.tiers)
    if form.is_valid():
        actor = staff_actor(request)
        try:
            changed = tier_manual_set(
                shop=shop,
                member_id=member.pk,
                tier_id=form.tier_id(),
                actor=actor,
                key=f"admin:{form.cleaned_data['idempotency_key']}",
                note=form.cleaned_data["reason"],
                audit=AuditRecord(actor=actor),
            )
        except InvalidTiers as exc:
            form.add_error("tier", str(exc))
        else:
            member.refresh_from_db()
            toast = "Tier set" if changed else "Tier already set"
            return customer_page(request, member, toast=toast)
    return customer_page(request, member, tier_set_form=form, status=422)


@embedded_admin_required
@in_shop_timezone
@require_POST
def customer_tier_grant(request: HttpRequest, member_id: int) -> HttpResponse:
    """Grant the member a tier for a number of days, with an optional note (audited;
    idempotent per form render)."""
    shop = request_shop(request)
    member = _member_or_404(shop, member_id)
    rules = tier_rules_load(shop=shop)
    if rules is None:
        return customer_page(request, member, status=409, error=TIERS_OFF)
    form = TierGrantForm(request.POST, tiers=rules.tiers)
    if form.is_valid():
        data, actor = form.cleaned_data, staff_actor(request)
        try:
            report = tier_grant(
                shop=shop,
                customer_ids=[member.customer_id],
                tier_id=int(data["tier"]),
                days=data["days"],
                actor=actor,
                key=f"admin:{data['idempotency_key']}",
                note=data["note"],
                audit=AuditRecord(actor=actor),
            )
        except InvalidTiers as exc:
            form.add_error("tier", str(exc))
        else:
            member.refresh_from_db()
            toast = "Tier granted" if report.granted else "Tier already granted"
            return customer_page(request, member, toast=toast)
    return customer_page(request, member, tier_grant_form=form, status=422)


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
        return customer_page(request, member, status=409, error=str(exc))
    except ShopifyApiError:
        return customer_page(
            request, member, status=502, error="The store did not answer; try again."
        )
    member.refresh_from_db()
    return customer_page(request, member, toast="Code cancelled, points refunded")


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
