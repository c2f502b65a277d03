"""Referrals: the program's settings (friend's offer, advocate's reward, cap), the figures
(referred revenue, conversion, top advocates) and the referrals by status with search; a
blocked referral shows its reason in words and can be unblocked (the reward is then given)
or cancelled, both audited by the services."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from loyalty.errors import ReferralNotAvailable, ReferralRefused
from loyalty.forms_referrals import ReferralSettingsForm, referral_settings_initial
from loyalty.models import Reward
from loyalty.rules import referrals as rules
from loyalty.selectors_referrals import (
    referral_analytics,
    referral_status_counts,
    referrals_admin,
)
from loyalty.services.referrals import referral_settings_get, referral_settings_save
from loyalty.services.referrals_rewards import referral_cancel, referral_unblock
from merchants.auth import embedded_admin_required
from merchants.models import Shop
from merchants.views.pages import (
    admin_page,
    admin_partial,
    in_shop_timezone,
    page_links,
    request_shop,
    staff_actor,
)

REFERRALS_PER_PAGE = 25
SAVED = "Referral settings saved"
# The list's tabs: the merchant's four statuses ("ordered" waits for its reward: pending).
TABS = (
    ("pending", "Pending", (rules.PENDING, rules.ORDERED)),
    ("completed", "Completed", (rules.COMPLETED,)),
    ("blocked", "Blocked", (rules.BLOCKED,)),
    ("cancelled", "Cancelled", (rules.CANCELLED,)),
)
EMPTY_TAB = {
    "pending": "No referral is waiting. Friends who claim an offer show here until their "
    "first order's reward is given.",
    "completed": "No advocate has been rewarded yet.",
    "blocked": "No referral was blocked by the fraud checks.",
    "cancelled": "No referral was cancelled.",
}


def _rewards(shop: Shop) -> list[tuple[int, str]]:
    """The catalogue rewards a referral may give (active, not the points slider)."""
    rows = Reward.objects.filter(shop=shop, active=True).exclude(kind=Reward.Kind.VARIABLE)
    return list(rows.order_by("points_cost", "pk").values_list("pk", "name"))


def _list_context(request: HttpRequest, shop: Shop) -> dict[str, Any]:
    """The list's tab, search and page (an unknown tab is the first one)."""
    tab = request.GET.get("status", "")
    if tab not in {key for key, _, _ in TABS}:
        tab = TABS[0][0]
    q = request.GET.get("q", "").replace("\x00", "")[:200]
    statuses = next(s for key, _, s in TABS if key == tab)
    rows = referrals_admin(shop=shop, search=q).filter(status__in=statuses)
    page = Paginator(rows, REFERRALS_PER_PAGE).get_page(request.GET.get("page"))
    counts = referral_status_counts(shop=shop)
    url = reverse("loyalty_admin:referrals")
    return {
        "tab": tab,
        "tabs": [
            {"key": key, "label": label, "count": sum(counts[s] for s in sts)}
            for key, label, sts in TABS
        ],
        "q": q,
        "page": page,
        "rows": [
            {"referral": r, "reason_words": rules.REASONS.get(r.reason, r.reason)}
            for r in page.object_list
        ],
        "pages": page_links(page, url, status=tab, q=q),
        "empty_words": EMPTY_TAB[tab],
    }


def _page(
    request: HttpRequest,
    *,
    form: ReferralSettingsForm | None = None,
    status: int = 200,
    toast: str | None = None,
    error: str = "",
) -> HttpResponse:
    shop = request_shop(request)
    config = referral_settings_get(shop=shop)
    form = form or ReferralSettingsForm(
        initial=referral_settings_initial(config), rewards=_rewards(shop)
    )
    context = {
        "form": form,
        "config": config,
        "figures": referral_analytics(shop=shop),
        "error": error,
        "saved": toast == SAVED,
        **_list_context(request, shop),
    }
    return admin_page(request, "loyalty/referrals.html", context, status=status, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def referrals(request: HttpRequest) -> HttpResponse:
    """The Referrals page; a POST saves the settings (a refused one: 422, the field's
    reason, nothing written)."""
    shop = request_shop(request)
    if request.method == "GET":
        if getattr(request, "htmx", None) and request.headers.get("HX-Target") == "beam-referrals":
            return admin_partial(
                request, "loyalty/referrals.html#list", {**_list_context(request, shop)}
            )
        return _page(request)
    form = ReferralSettingsForm(request.POST, rewards=_rewards(shop))
    if form.is_valid():
        try:
            referral_settings_save(shop=shop, actor=staff_actor(request), data=form.service_data())
        except ReferralRefused as exc:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, str(exc))
        else:
            return _page(request, toast=SAVED)
    return _page(request, form=form, status=422)


def _act(request: HttpRequest, referral_id: int, action: Any, toast: str) -> HttpResponse:
    shop = request_shop(request)
    try:
        action(shop=shop, referral_id=referral_id, actor=staff_actor(request))
    except ReferralNotAvailable as exc:
        raise Http404("No such referral.") from exc
    except ReferralRefused as exc:
        return _page(request, status=409, error=str(exc))
    return _page(request, toast=toast)


@embedded_admin_required
@in_shop_timezone
@require_POST
def referral_unblock_view(request: HttpRequest, referral_id: int) -> HttpResponse:
    """Lift a block: the advocate is rewarded (or the friend's code made), once."""
    return _act(request, referral_id, referral_unblock, "Referral unblocked")


@embedded_admin_required
@in_shop_timezone
@require_POST
def referral_cancel_view(request: HttpRequest, referral_id: int) -> HttpResponse:
    """Cancel a referral that gave no reward yet."""
    return _act(request, referral_id, referral_cancel, "Referral cancelled")
