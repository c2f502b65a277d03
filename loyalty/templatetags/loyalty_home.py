"""``{% program_home shop %}``: the program on the admin's Home — its state, a setup
checklist, the last 30 days' key figures and recent activity (the merchants app renders
Home but never imports loyalty; this tag is how the page asks)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from loyalty.admin_words import ledger_lines
from loyalty.analytics.selectors import DateRange, dashboard_get
from loyalty.models import LedgerEntry, LoyaltyProgram, Member, Reward
from merchants.models import Shop
from merchants.views.pages import shop_zone

register = template.Library()

RECENT = 5


def _checklist(shop: Shop, program: LoyaltyProgram | None) -> list[dict[str, Any]]:
    """What a merchant does to get going, each with where it is done."""
    steps = [
        ("Launch the program", program is not None and program.onboarded_at is not None,
         "loyalty_admin:onboarding"),
        ("Offer rewards", Reward.objects.filter(shop=shop, active=True).exists(),
         "loyalty_admin:rewards"),
        ("Make the launcher yours", bool(program and program.branding),
         "loyalty_admin:branding"),
        ("Show it on your store", bool(program and program.branding_published_at),
         "loyalty_admin:branding"),
        ("Welcome your first member", Member.objects.filter(shop=shop).exists(),
         "loyalty_admin:customers"),
    ]  # fmt: skip
    return [{"label": label, "done": done, "url": reverse(name)} for label, done, name in steps]


@register.inclusion_tag("loyalty/_home.html")
def program_home(shop: Shop) -> dict[str, Any]:
    """Launched (live or paused) or not yet set up; Home offers the wizard only then."""
    program = LoyaltyProgram.objects.filter(shop=shop).first()
    checklist = _checklist(shop, program)
    done = sum(1 for step in checklist if step["done"])
    today = timezone.now().astimezone(shop_zone(shop)).date()
    board = dashboard_get(shop=shop, rng=DateRange(today - timedelta(days=29), today))
    entries = list(
        LedgerEntry.objects.filter(shop=shop)
        .select_related("member")
        .order_by("-created_at", "-pk")[:RECENT]
    )
    return {
        "shop": shop,
        "program": program,
        "launched": bool(program and program.onboarded_at),
        "checklist": checklist,
        "done": done,
        "progress": f"{done / len(checklist):.2f}",
        "board": board,
        "recent": ledger_lines(entries, {}),
        "url_onboarding": reverse("loyalty_admin:onboarding"),
        "url_earning": reverse("loyalty_admin:earning"),
    }
