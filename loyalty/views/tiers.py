"""The VIP tiers page: the program's tier settings and tiers edited as one draft, a review of
what the draft does to the settings (at once) and to members (a background preview,
``tier_preview_start``, polled by htmx until its counts are ready), then the apply of the
previewed draft (``tier_preview_apply``: audited, recompute queued) and the recompute's
progress, polled by htmx until it is done."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core import numbers
from loyalty.errors import InvalidTiers
from loyalty.forms_tiers import (
    TIER_PREFIX,
    TierFormSet,
    TierSettingsForm,
    draft_from_forms,
    entry_reward_usable,
    settings_initial,
    spend_words,
    tier_initial,
    tier_starter,
)
from loyalty.models import Member, Reward, TierPreview, TierRecompute
from loyalty.services.tiers_draft import (
    TierDraft,
    TierDraftChange,
    tier_draft_changes,
    tier_draft_current,
    tier_draft_problem,
)
from loyalty.services.tiers_preview import (
    tier_draft_from_json,
    tier_preview_apply,
    tier_preview_stale,
    tier_preview_start,
)
from loyalty.services.tiers_recompute import RecomputeCounts, tier_recompute_running
from loyalty.services.tiers_sync import tier_sync_retry_parked, tier_sync_status
from merchants.auth import embedded_admin_required
from merchants.models import Shop
from merchants.views.pages import (
    admin_page,
    admin_partial,
    admin_redirect,
    in_shop_timezone,
    request_shop,
    shop_row_or_404,
    staff_actor,
)

TEMPLATE = "loyalty/tiers.html"
MAX_TIERS = 20
TIER_FIELDS = (
    "tier_id",
    "name",
    "threshold",
    "multiplier",
    "entry_points",
    "entry_reward",
    "perks",
)
SETTING_WORDS = {
    "enabled": "Tiers",
    "metric": "Members qualify by",
    "spend_includes_discounts": "Discounts count as spent",
    "spend_includes_shipping": "Shipping counts as spent",
    "spend_includes_tax": "Tax counts as spent",
    "window": "Period",
    "window_months": "Rolling window (months)",
    "program_start": "Program start",
    "grace_periods": "Grace (periods)",
    "new_member_tier": "Time-limited access for new members",
    "new_member_days": "New members' access (days)",
    "customer_tag_enabled": "Tag the store's customer",
    "customer_tag_prefix": "Tag prefix",
}
TIER_WORDS = {
    "threshold": "threshold",
    "multiplier": "multiplier",
    "perks": "perks",
    "entry_points": "entry points",
    "entry_reward_id": "entry reward",
}
METRIC_WORDS = {"points": "Points earned", "spend": "Amount spent", "orders": "Number of orders"}
WINDOW_WORDS = {
    "lifetime": "Lifetime",
    "calendar_year": "Calendar year",
    "rolling": "Rolling months",
}


# --- words -----------------------------------------------------------------------------------


def threshold_words(value: Decimal | None, metric: str, shop: Shop) -> str:
    """A threshold in its metric's unit: "500 points", "$250.00", "3 orders"."""
    locale = numbers.locale_of(shop)
    if metric == "spend":
        return numbers.money_format(value, shop.currency, locale)
    if metric == "orders":
        return numbers.counted(value, "order", locale)
    return f"{numbers.number_format(value, locale)} points"


def multiplier_words(multiplier: Decimal) -> str:
    """1.5 → "1.5x"; 2.0000 → "2x"."""
    return f"{multiplier.normalize():f}x"


def threshold_unit(metric: str, shop: Shop) -> str:
    return {"spend": f"{shop.currency} spent", "orders": "orders"}.get(metric, "points earned")


def counts_words(counts: RecomputeCounts) -> str:
    """ "41 members move up, 7 move down, 3 lose a granted tier, 12 unchanged"."""

    def verb(n: int, one: str, many: str) -> str:
        return one if n == 1 else many

    return (
        f"{numbers.counted(counts.up, 'member')} {verb(counts.up, 'moves', 'move')} up, "
        f"{counts.down} {verb(counts.down, 'moves', 'move')} down, "
        f"{counts.grant_lost} {verb(counts.grant_lost, 'loses', 'lose')} a granted tier, "
        f"{counts.unchanged} unchanged"
    )


def _value(key: str, value: Any, metric: str, shop: Shop, rewards: dict[int, str]) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, bool):
        return ("on" if value else "off") if key == "enabled" else ("yes" if value else "no")
    if key == "metric":
        return METRIC_WORDS.get(value, value)
    if key == "window":
        return WINDOW_WORDS.get(value, value)
    if key == "program_start":
        return value.strftime("%-d %b %Y")
    if key in ("threshold", "added", "archived"):
        return threshold_words(value, metric, shop)
    if key == "multiplier":
        return multiplier_words(value)
    if key == "perks":
        return "; ".join(value)
    if key == "entry_reward_id":
        return rewards.get(value, f"reward {value}")
    if key == "entry_points":
        return numbers.number_format(value, numbers.locale_of(shop))
    return str(value)


def change_line(
    change: TierDraftChange,
    before: TierDraft,
    after: TierDraft,
    shop: Shop,
    rewards: dict[int, str],
) -> dict[str, str]:
    """One line of the review: a sentence (``text``) or a label with ``before`` → ``after``."""
    old, new = before.metric, after.metric
    if change.key == "added":
        start = _value("added", change.after, new, shop, rewards)
        return {"text": f"Adds the tier {change.tier}, from {start}"}
    if change.key == "archived":
        return {"text": f"Archives the tier {change.tier} (its history is kept)"}
    if change.key == "name":
        return {"label": "Renames a tier", "before": change.before, "after": change.after}
    label = f"{change.tier} {TIER_WORDS[change.key]}" if change.tier else SETTING_WORDS[change.key]
    return {
        "label": label,
        "before": _value(change.key, change.before, old, shop, rewards),
        "after": _value(change.key, change.after, new, shop, rewards),
    }


# --- forms -----------------------------------------------------------------------------------


def _rewards(shop: Shop, current: TierDraft) -> list[Reward]:
    """The rewards an entry reward can be: the usable ones, and any a tier holds now."""
    held = {t.entry_reward_id for t in current.tiers if t.entry_reward_id is not None}
    rewards = Reward.objects.filter(shop=shop).order_by("-active", "name", "pk")
    return [r for r in rewards if entry_reward_usable(r) or r.pk in held]


def _unbound(
    shop: Shop, rewards: list[Reward], settings: dict[str, Any], rows: list[dict[str, Any]]
) -> tuple[TierSettingsForm, Any]:
    names = [str(row.get("name") or "") for row in rows]
    form = TierSettingsForm(initial=settings, tier_names=names)
    formset = TierFormSet(initial=rows, prefix=TIER_PREFIX, form_kwargs={"rewards": rewards})
    return form, formset


def _posted(post: QueryDict) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The posted draft as initial values (to show it again without checking it)."""
    settings: dict[str, Any] = {
        name: post.get(name) for name in TierSettingsForm.base_fields if name in post
    }
    for flag in (
        "enabled",
        "spend_includes_discounts",
        "spend_includes_shipping",
        "spend_includes_tax",
        "customer_tag_enabled",
    ):
        settings[flag] = _flag(post.get(flag))
    try:
        total = min(int(post.get(f"{TIER_PREFIX}-TOTAL_FORMS", "0")), MAX_TIERS)
    except ValueError:
        total = 0
    rows = []
    for n in range(max(total, 0)):
        row: dict[str, Any] = {f: post.get(f"{TIER_PREFIX}-{n}-{f}", "") for f in TIER_FIELDS}
        row["archive"] = _flag(post.get(f"{TIER_PREFIX}-{n}-archive"))
        rows.append(row)
    return settings, rows


def _moved_up(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Tier ``n`` one rank up: it swaps places with the tier above and takes its threshold
    (ranks follow thresholds, so the thresholds stay where they were)."""
    if not 0 < n < len(rows):
        return rows
    rows = [dict(row) for row in rows]
    upper, lower = rows[n - 1], rows[n]
    upper["threshold"], lower["threshold"] = lower["threshold"], upper["threshold"]
    rows[n - 1], rows[n] = lower, upper
    return rows


def _label_tiers(formset: Any, metric: str, shop: Shop) -> None:
    """Thresholds labelled with the metric's unit; each tier but the first offers to swap
    with the tier above it."""
    unit = threshold_unit(metric, shop)
    above = ""
    for n, form in enumerate(formset.forms):
        form.fields["threshold"].label = f"Threshold ({unit})"
        name = str(form["name"].value() or "").strip() or "New tier"
        form.swap_label = f"Swap with {above}" if n else ""
        form.swap_action = f"up-{n}"
        above = name


def _place_problem(problem: str, form: TierSettingsForm, formset: Any) -> None:
    """Show the rules' refusal on the field it is about (the message names the tier)."""
    lowered = problem.lower()
    live = [f for f in formset.forms if not f.cleaned_data.get("archive")]
    if "its own name" in lowered or "its own threshold" in lowered:
        field = "name" if "name" in lowered else "threshold"
        seen: dict[Any, list[Any]] = {}
        for f in live:
            value = f.cleaned_data.get(field)
            key = value.strip().lower() if isinstance(value, str) else value
            seen.setdefault(key, []).append(f)
        for group in seen.values():
            for f in group if len(group) > 1 else ():
                f.add_error(field, problem)
        if any(len(g) > 1 for g in seen.values()):
            return
    if "entry reward" in lowered:
        for f in live:
            if f.cleaned_data.get("entry_reward") is not None:
                f.add_error("entry_reward", problem)
        return
    for f in live:
        name = f.cleaned_data.get("name", "")
        if name and (problem.startswith(f"{name}:") or problem.startswith(f"{name[:20]}…")):
            for keyword, field in (
                ("threshold", "threshold"),
                ("multiplier", "multiplier"),
                ("entry points", "entry_points"),
                ("perks", "perks"),
            ):
                if keyword in lowered:
                    f.add_error(field, problem)
                    return
            f.add_error("name", problem)
            return
    settings_fields = (
        ("qualify by", "metric"),
        ("qualifying window", "window"),
        ("rolling window", "window_months"),
        ("grace", "grace_periods"),
        ("new members get", "new_member_days"),
        ("tier for new members must", "new_member_tier"),
        ("tag prefix", "customer_tag_prefix"),
    )
    for keyword, field in settings_fields:
        if keyword in lowered:
            form.add_error(field, problem)
            return
    if "for new members needs" in lowered:
        missing = (
            "new_member_days" if form.cleaned_data.get("new_member_tier") else "new_member_tier"
        )
        form.add_error(missing, problem)
        return
    form.add_error(None, problem)


# --- pages -----------------------------------------------------------------------------------


def _latest_recompute(shop: Shop) -> TierRecompute | None:
    return TierRecompute.objects.filter(shop=shop).order_by("-created_at", "-pk").first()


def _page(
    request: HttpRequest,
    shop: Shop,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    current = context.pop("current", None) or tier_draft_current(shop=shop)
    form = context.get("form")
    metric = current.metric
    if form is not None:
        metric = (form.data.get("metric") if form.is_bound else None) or form.initial.get(
            "metric", metric
        )
        _label_tiers(context["formset"], str(metric), shop)
    recompute = _latest_recompute(shop)
    base: dict[str, Any] = {
        "sync": tier_sync_status(shop=shop),
        "sync_retry_url": reverse("loyalty_admin:tiers_sync_retry"),
        "current": current,
        "running": tier_recompute_running(shop=shop),
        "recompute": recompute,
        "metric": metric,
        "starter_metrics": list(METRIC_WORDS.items()),
        "tiers_url": reverse("loyalty_admin:tiers"),
        "review": None,
        "empty": False,
    }
    if form is not None:
        data = form.data if form.is_bound else form.initial
        base["spend_words"] = spend_words(
            discounts=_flag(data.get("spend_includes_discounts")),
            shipping=_flag(data.get("spend_includes_shipping")),
            tax=_flag(data.get("spend_includes_tax")),
        )
    page = {**base, **context, **_progress(recompute)}
    return admin_page(request, TEMPLATE, page, status=status)


def _flag(value: Any) -> bool:
    return value not in (None, "", False, "False", "false")


def _progress(recompute: TierRecompute | None) -> dict[str, Any]:
    if recompute is None:
        return {}
    total = recompute.total or 0
    done = min(recompute.done, total)
    finished = recompute.status == TierRecompute.Status.DONE
    fraction = Decimal(1) if finished or not total else Decimal(done) / Decimal(total)
    titles: dict[str, str] = {
        TierRecompute.Status.DONE: "Last change applied",
        TierRecompute.Status.FAILED: "The last change stopped",
    }
    return {
        "progress_title": titles.get(recompute.status, "Applying the last change"),
        "progress": f"{fraction:.2f}",
        "progress_percent": int(fraction * 100),
        # Saved with tiers off: nobody was moved (no member holds a tier while they are off).
        "progress_counts": counts_words(RecomputeCounts(**recompute.counts))
        if recompute.counts or not finished or not total
        else "tiers are off, so no member holds a tier",
        "progress_url": reverse("loyalty_admin:tiers_progress", args=[recompute.pk]),
    }


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def tiers(request: HttpRequest) -> HttpResponse:
    """GET: the saved draft in the form (or the empty state; ``?starter=<metric>`` fills the
    form with Bronze, Silver and Gold). POST ``action``: ``review`` (default) checks the draft
    and shows what it does, ``apply`` saves it, ``add``/``edit``/``up-N`` show the draft again
    with a new tier, as it was, or tier N moved up, without checking it."""
    shop = request_shop(request)
    current = tier_draft_current(shop=shop)
    rewards = _rewards(shop, current)
    if request.method == "GET":
        starter = request.GET.get("starter")
        draft = tier_starter(starter) if starter is not None else current
        if not draft.tiers:
            return _page(request, shop, {"current": current, "empty": True})
        form, formset = _unbound(
            shop,
            rewards,
            settings_initial(draft),
            [tier_initial(t, draft.metric) for t in draft.tiers],
        )
        return _page(request, shop, {"current": current, "form": form, "formset": formset})

    action = request.POST.get("action", "review")
    if action in ("add", "edit") or action.startswith("up-"):
        settings, rows = _posted(request.POST)
        if action == "add" and len(rows) < MAX_TIERS:
            rows.append({"multiplier": Decimal(1), "entry_points": 0})
        elif action.startswith("up-") and action[3:].isdigit():
            rows = _moved_up(rows, int(action[3:]))
        form, formset = _unbound(shop, rewards, settings, rows)
        return _page(request, shop, {"current": current, "form": form, "formset": formset})
    if action == "apply":
        return _apply(request, shop, current, rewards)

    names = [
        request.POST.get(f"{TIER_PREFIX}-{n}-name", "")
        for n in range(min(_int(request.POST.get(f"{TIER_PREFIX}-TOTAL_FORMS")), MAX_TIERS))
    ]
    form = TierSettingsForm(request.POST, tier_names=names)
    formset = TierFormSet(request.POST, prefix=TIER_PREFIX, form_kwargs={"rewards": rewards})
    context: dict[str, Any] = {"current": current, "form": form, "formset": formset}
    if not (form.is_valid() and formset.is_valid()):
        return _page(request, shop, context, status=422)
    draft = draft_from_forms(form, formset)
    problem = tier_draft_problem(shop=shop, draft=draft)
    if problem:
        _place_problem(problem, form, formset)
        return _page(request, shop, context, status=422)
    preview = tier_preview_start(shop=shop, draft=draft, actor=staff_actor(request))
    preview.refresh_from_db()  # an eager run (tests, ``make run``) has finished it
    context["review"] = _review(shop, preview, rewards)
    return _page(request, shop, context)


def _apply(
    request: HttpRequest, shop: Shop, current: TierDraft, rewards: list[Reward]
) -> HttpResponse:
    """Save the draft of the preview the review showed (read back from its row, whatever
    else was posted); 409 with the reason, and the review again, when it cannot be."""
    preview_id = _int(request.POST.get("preview"))
    if not preview_id:
        return HttpResponseBadRequest("Review the changes before applying them.")
    preview = shop_row_or_404(TierPreview, shop, preview_id, "No such review.")
    try:
        tier_preview_apply(shop=shop, preview=preview, actor=staff_actor(request))
    except InvalidTiers as exc:
        draft = tier_draft_from_json(preview.draft)
        form, formset = _unbound(
            shop,
            rewards,
            settings_initial(draft),
            [tier_initial(t, draft.metric) for t in draft.tiers],
        )
        context: dict[str, Any] = {
            "current": current,
            "form": form,
            "formset": formset,
            "review": _review(shop, preview, rewards),
            "refused": str(exc),
        }
        return _page(request, shop, context, status=409)
    return admin_redirect(request, reverse("loyalty_admin:tiers"), toast="Tier settings saved")


def _int(value: str | None) -> int:
    try:
        return max(int(value or 0), 0)
    except ValueError:
        return 0


def _review(shop: Shop, preview: TierPreview, rewards: list[Reward]) -> dict[str, Any]:
    """What the previewed draft does to the settings it was compared with, each from what to
    what (at once), and the preview's state: the members' moves once they are worked out."""
    names = {r.pk: r.name for r in rewards}
    before, draft = tier_draft_from_json(preview.base), tier_draft_from_json(preview.draft)
    changes = tier_draft_changes(before, draft)
    return {
        "lines": [change_line(c, before, draft, shop, names) for c in changes],
        "unchanged": not changes,
        "tiers": [
            {
                "name": t.name,
                "from": threshold_words(t.threshold, draft.metric, shop),
                "multiplier": multiplier_words(t.multiplier),
            }
            for t in sorted(draft.tiers, key=lambda t: (t.threshold, t.multiplier))
        ],
        **_preview_state(shop, preview, draft),
    }


def _preview_state(shop: Shop, preview: TierPreview, draft: TierDraft) -> dict[str, Any]:
    """The preview card's state: progress while it runs, the counts when ready, or why it
    cannot be applied (failed, stale, a recompute still running)."""
    done = preview.status == TierPreview.Status.DONE
    total = preview.total or 0
    fraction = (
        Decimal(1) if done or not total else Decimal(min(preview.done, total)) / Decimal(total)
    )
    stale = done and tier_preview_stale(shop=shop, preview=preview)
    state: dict[str, Any] = {
        "preview": preview,
        "enabled": draft.enabled,
        "preview_url": reverse("loyalty_admin:tiers_preview", args=[preview.pk]),
        "preview_polling": preview.status
        in (TierPreview.Status.PENDING, TierPreview.Status.RUNNING),
        "preview_progress": f"{fraction:.2f}",
        "preview_percent": int(fraction * 100),
        "stale": stale,
        "error": preview.error.rstrip(". ") or "an error stopped it",
        "running": tier_recompute_running(shop=shop),
    }
    state["apply_disabled"] = not done or stale or state["running"] is not None
    if done and draft.enabled:
        state["counts"] = counts_words(RecomputeCounts(**preview.counts))
    elif done:
        state["holding"] = Member.objects.filter(shop=shop, tier__isnull=False).count()
    return state


@embedded_admin_required
@in_shop_timezone
@require_safe
def tiers_progress(request: HttpRequest, recompute_id: int) -> HttpResponse:
    """The recompute's progress card (htmx polls it while the recompute runs)."""
    shop = request_shop(request)
    recompute = shop_row_or_404(TierRecompute, shop, recompute_id, "No such recompute.")
    return admin_partial(
        request, f"{TEMPLATE}#progress", {"recompute": recompute, **_progress(recompute)}
    )


@embedded_admin_required
@in_shop_timezone
@require_safe
def tiers_preview(request: HttpRequest, preview_id: int) -> HttpResponse:
    """The review card's body: the settings from what to what and the members' moves (htmx
    polls it while the preview is worked out), with its Apply, enabled once they are."""
    shop = request_shop(request)
    preview = shop_row_or_404(TierPreview, shop, preview_id, "No such review.")
    rewards = _rewards(shop, tier_draft_current(shop=shop))
    return admin_partial(
        request, f"{TEMPLATE}#preview", {"review": _review(shop, preview, rewards)}
    )


@embedded_admin_required
@require_POST
def tiers_sync_retry(request: HttpRequest) -> HttpResponse:
    """The merchant's "Try again" for customers the store refused to update (audited)."""
    shop = request_shop(request)
    moved = tier_sync_retry_parked(shop=shop, actor=staff_actor(request))
    toast = f"{moved} customer(s) queued again" if moved else "Nothing to try again"
    return admin_redirect(request, reverse("loyalty_admin:tiers"), toast=toast)
