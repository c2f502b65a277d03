"""Customers, "Grant a tier": upload a CSV of customer ids or emails, choose the tier and the
days, see how many members it matches and which lines it does not, then grant."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST

from loyalty.errors import InvalidTiers
from loyalty.forms_member_tiers import TierGrantListApplyForm, TierGrantListForm
from loyalty.rules.tiers import TierRules
from loyalty.services.tier_grants import tier_grant_list_apply, tier_grant_list_read
from loyalty.services.tiers import tier_rules_load
from merchants.auth import embedded_admin_required
from merchants.views.pages import admin_page, in_shop_timezone, request_shop, staff_actor

TEMPLATE = "loyalty/customers_grant_tier.html"


def _page(
    request: HttpRequest, context: dict[str, Any], *, status: int = 200, toast: str | None = None
) -> HttpResponse:
    return admin_page(request, TEMPLATE, context, status=status, toast=toast)


def _tiers_off(request: HttpRequest) -> HttpResponse:
    return _page(request, {"tiers_off": True}, status=409 if request.method == "POST" else 200)


def _tier_name(rules: TierRules, tier_id: str) -> str:
    tier = rules.by_id(int(tier_id))
    return tier.name if tier else ""


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def customers_grant_tier(request: HttpRequest) -> HttpResponse:
    """Step 1: the file, tier and days; a valid upload shows the preview (nothing written)."""
    shop = request_shop(request)
    rules = tier_rules_load(shop=shop)
    if rules is None:
        return _tiers_off(request)
    if request.method != "POST":
        form = TierGrantListForm(tiers=rules.tiers, initial={"tier": rules.tiers[-1].tier_id})
        return _page(request, {"upload": form})
    form = TierGrantListForm(request.POST, request.FILES, tiers=rules.tiers)
    if not form.is_valid():
        return _page(request, {"upload": form}, status=422)
    data = form.cleaned_data
    names = tier_grant_list_read(shop=shop, csv_text=data["file"])
    if names.error:
        form.add_error("file", names.error)
        return _page(request, {"upload": form}, status=422)
    apply = TierGrantListApplyForm(
        tiers=rules.tiers,
        initial={
            "csv_text": data["file"],
            "tier": data["tier"],
            "days": data["days"],
            "note": data["note"],
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    tier_name, matched = _tier_name(rules, data["tier"]), len(names.customer_ids)
    context = {
        "upload": form,
        "preview": names,
        "apply_label": f"Grant {tier_name} to {matched} customer{'' if matched == 1 else 's'}",
        "apply": apply,
        "tier_name": tier_name,
        "days": data["days"],
    }
    return _page(request, context)


@embedded_admin_required
@in_shop_timezone
@require_POST
def customers_grant_tier_apply(request: HttpRequest) -> HttpResponse:
    """Step 2: grant the previewed tier to the members the file matches (read again now);
    the same preview applied twice grants once."""
    shop = request_shop(request)
    rules = tier_rules_load(shop=shop)
    if rules is None:
        return _tiers_off(request)
    form = TierGrantListApplyForm(request.POST, tiers=rules.tiers)
    upload = TierGrantListForm(tiers=rules.tiers, initial={"tier": rules.tiers[-1].tier_id})
    if not form.is_valid():
        return _page(request, {"upload": upload, "apply_errors": form.errors}, status=422)
    data = form.cleaned_data
    try:
        names, report = tier_grant_list_apply(
            shop=shop,
            csv_text=data["csv_text"],
            tier_id=int(data["tier"]),
            days=data["days"],
            actor=staff_actor(request),
            key=data["idempotency_key"],
            note=data["note"],
        )
    except InvalidTiers as exc:
        errors = {"tier": [str(exc)]}
        return _page(request, {"upload": upload, "apply_errors": errors}, status=422)
    context = {
        "upload": upload,
        "report": report,
        "names": names,
        # lines the file does not match, and members gone between the read and the grant
        "skipped": len(names.unknown) + len(report.unknown),
        "tier_name": _tier_name(rules, data["tier"]),
        "days": data["days"],
    }
    return _page(request, context, toast=f"Tier granted to {report.granted} customers")
