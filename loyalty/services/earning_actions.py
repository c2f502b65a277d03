"""Ways to earn other than orders: the one award service, reversals, and what feeds it
(birthdays entered in the panel, newsletter consent from customer webhooks, social clicks).

``action_award`` is the only way an earning action gives points: it locks the member row,
returns the earlier award when the key was used (retries never award twice), applies the
action's switch and per-member limit (``loyalty.rules.earning_actions``), multiplies the
points by the member's tier multiplier exactly like the crediting engine does for orders
(``tier_points``, while tiers are on), and posts one ``action`` ledger entry whose note is
the reason the shopper reads in the points history.

Action points do **not** count toward the tier metric "points earned": like welcome,
manual and entry points, they are not order points (``loyalty.rules.tiers`` counts orders
only), so a birthday or a follow never moves a member up. They count in ``lifetime_earned``
and in analytics' points issued (``EARN_KINDS``).

The birthday and anniversary jobs live in ``earning_actions_yearly``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from loyalty.analytics.services import shop_zone
from loyalty.audit import audit_record
from loyalty.errors import InvalidConfiguration, MemberNotFound
from loyalty.member_versions import member_changed_on_commit
from loyalty.models import LoyaltyProgram, Member
from loyalty.models_earning import ActionAward, EarningAction, MemberBirthday
from loyalty.rules import earning_actions as rules
from loyalty.rules.tiers import ONE, tier_points
from loyalty.services.ledger import Kind, ledger_post, member_lock
from loyalty.services.program_config import program_get_or_create
from loyalty.services.tiers import tier_rules_load
from merchants.models import Shop

logger = logging.getLogger(__name__)

AWARDED = "awarded"
ALREADY = "already"  # the key was used: the earlier award stands
LIMIT = "limit"  # the member reached the action's limit
OFF = "off"  # the action (or the program) is off, or gives no points
NegativePolicy = LoyaltyProgram.NegativePolicy


class BirthdayInvalid(InvalidConfiguration):
    """The birthday as entered cannot be a birthday (the message says why)."""

    code = "invalid_birthday"


class ActionNotAvailable(InvalidConfiguration):
    """No such way to earn in this shop, or it is off."""

    code = "action_not_available"
    http_status = 404


@dataclass(frozen=True)
class AwardOutcome:
    """What ``action_award`` did: ``status`` (awarded, already, limit, off), the points the
    award gave (0 unless awarded or already) and the award row when there is one."""

    status: str
    points: int = 0
    award: ActionAward | None = None


@dataclass(frozen=True)
class AwardContext:
    """What every award of one shop in one transaction reads once: the program (switch,
    rounding, negative policy) and whether tiers are on (multipliers apply)."""

    program: LoyaltyProgram
    tiers_on: bool

    def points_for(self, member: Member, base: int) -> tuple[int, Decimal]:
        """A bonus's points for this member and the multiplier applied: the member's tier
        multiplier while tiers are on, rounded by the program's rule (as orders earn)."""
        multiplier = member.tier_multiplier if self.tiers_on else ONE
        return tier_points(base, multiplier, self.program.rounding), multiplier


def award_context(shop: Shop) -> AwardContext:
    return AwardContext(
        program=program_get_or_create(shop=shop),
        tiers_on=tier_rules_load(shop=shop) is not None,
    )


def shop_today(shop: Shop, now: datetime | None = None) -> date:
    """Today in the shop's time zone (periods and birthdays are the shop's days)."""
    return (now or timezone.now()).astimezone(shop_zone(shop)).date()


def action_find(
    *, shop: Shop, kind: str, network: str = "", name: str = ""
) -> EarningAction | None:
    return EarningAction.objects.filter(shop=shop, kind=kind, network=network, name=name).first()


# --- the award -----------------------------------------------------------------------------


def action_award(
    *,
    shop: Shop,
    member_id: int,
    kind: str,
    key: str,
    network: str = "",
    name: str = "",
    on: date | None = None,
    actor: str = "",
    source_ref: str = "",
) -> AwardOutcome:
    """Award the shop's action of this kind to the member once per ``key`` (see the module
    docstring). ``on`` is the shop day the award is for (default: today); ``actor`` names a
    merchant acting (the award is then audited)."""
    with transaction.atomic(durable=True):
        member = member_lock(shop_id=shop.pk, member_id=member_id)
        action = action_find(shop=shop, kind=kind, network=network, name=name)
        if action is None:
            return AwardOutcome(OFF)
        return action_award_locked(
            shop=shop,
            member=member,
            action=action,
            key=key,
            on=on or shop_today(shop),
            context=award_context(shop),
            actor=actor,
            source_ref=source_ref,
        )


def action_award_locked(
    *,
    shop: Shop,
    member: Member,
    action: EarningAction,
    key: str,
    on: date,
    context: AwardContext,
    actor: str = "",
    source_ref: str = "",
) -> AwardOutcome:
    """``action_award``'s work. Precondition: inside a transaction, ``member`` was fetched
    with ``member_qs_select_for_update()`` (the limit check and the post are one step)."""
    earlier = ActionAward.objects.filter(shop=shop, key=key).first()
    if earlier is not None:
        return AwardOutcome(ALREADY, earlier.points, earlier)
    if not (context.program.enabled and action.enabled and action.points > 0):
        return AwardOutcome(OFF)
    period = rules.period_key(action.limit, on)
    taken = ActionAward.objects.filter(member=member, action=action, reversed_at=None)
    if action.limit != rules.ONCE:
        taken = taken.filter(period=period)
    if rules.limit_reached(action.limit, period, taken.values_list("period", flat=True)[:1]):
        return AwardOutcome(LIMIT)
    points, multiplier = context.points_for(member, action.points)
    reason = rules.action_reason(action.kind, action.network, action.name)
    ledger_post(
        member=member,
        amount=points,
        kind=Kind.ACTION,
        key=f"action:{key}",
        source_type="action",
        source_id=action.pk,
        actor=actor,
        note=reason,
        earned=points,
        activity_at=timezone.now(),
    )
    award = ActionAward.objects.create(
        shop=shop,
        member=member,
        action=action,
        key=key,
        period=period,
        occurred_on=on,
        points=points,
        base_points=action.points,
        tier_multiplier=multiplier,
        source_ref=source_ref[:128],
        actor=actor,
    )
    if actor:
        audit_record(
            shop=shop,
            actor=actor,
            action="action.award",
            target_type="member",
            target_id=member.pk,
            summary=f"{reason}: {points} points",
            changes={"points": [None, points], "key": [None, key]},
        )
    return AwardOutcome(AWARDED, points, award)


def action_reverse(*, shop: Shop, key: str, reason: str, actor: str = "") -> ActionAward | None:
    """Take back an award (a deleted review) exactly once: one ``action_reversal`` entry
    and the award marked reversed; None when no award has this key. Under the shop's
    ``deduct_to_zero`` policy only what the balance holds is taken (like order reversals)."""
    with transaction.atomic(durable=True):
        found = ActionAward.objects.filter(shop=shop, key=key).values_list("member_id", flat=True)
        member_id = found.first()
        if member_id is None:
            return None
        member = member_lock(shop_id=shop.pk, member_id=member_id)
        award = ActionAward.objects.select_for_update().get(shop=shop, key=key)
        if award.reversed_at is not None:
            return award
        program = program_get_or_create(shop=shop)
        allow_negative = program.negative_balance_policy == NegativePolicy.ALLOW_NEGATIVE
        amount = award.points if allow_negative else min(award.points, max(member.balance, 0))
        ledger_post(
            member=member,
            amount=-amount,
            kind=Kind.ACTION_REVERSAL,
            key=f"action:{key}:reverse",
            source_type="action",
            source_id=award.action_id,
            actor=actor,
            note=rules.action_reason(award.action.kind, award.action.network, award.action.name),
            earned=-amount,
            allow_negative=allow_negative,
        )
        award.reversed_at = timezone.now()
        award.points_reversed = amount
        award.reversal_reason = reason[:255]
        award.save(update_fields=["reversed_at", "points_reversed", "reversal_reason"])
        if actor:
            audit_record(
                shop=shop,
                actor=actor,
                action="action.reverse",
                target_type="member",
                target_id=member.pk,
                summary=f"{award.key}: {amount} points",
                changes={"points": [award.points, award.points - amount]},
            )
    return award


# --- shopper actions -------------------------------------------------------------------------


def _member_id_for(shop: Shop, customer_id: int) -> int:
    found = Member.objects.filter(shop=shop, customer_id=customer_id).values_list("pk", flat=True)
    member_id = found.first()
    if member_id is None:
        raise MemberNotFound("Your membership is still being set up; try again in a moment.")
    return member_id


def member_birthday_set(
    *, shop: Shop, customer_id: int, month: Any, day: Any, year: Any = None
) -> MemberBirthday:
    """Record the shopper's birthday (month and day, the year optional). The gift comes on
    the day from the yearly job; a birthday set or changed less than 30 days before it falls
    does not earn that time, and a changed one earns again only 12 months after the last
    gift (``rules.birthday_due``). The notice counts from ``updated_at``, so saving the same
    day again (or only its year) leaves it where it was."""
    problem = rules.birthday_problem(month, day, year, shop_today(shop))
    if problem is not None:
        raise BirthdayInvalid(problem, field="birthday")
    member_id = _member_id_for(shop, customer_id)
    with transaction.atomic(durable=True):
        member = member_lock(shop_id=shop.pk, member_id=member_id)
        if member.redacted:
            raise MemberNotFound()
        row = MemberBirthday.objects.filter(member=member).first()
        if row is not None and (row.month, row.day, row.year) == (month, day, year):
            return row
        if row is None:
            row = MemberBirthday.objects.create(
                shop=shop, member=member, month=month, day=day, year=year
            )
        elif (row.month, row.day) == (month, day):
            # the same day: a queryset update keeps updated_at (the notice's start)
            MemberBirthday.objects.filter(pk=row.pk).update(year=year)
            row.year = year
        else:
            row.month, row.day, row.year = month, day, year
            row.save(update_fields=["month", "day", "year", "updated_at"])
        member_changed_on_commit(shop_id=shop.pk, customer_id=member.customer_id)
    return row


def social_click(*, shop: Shop, customer_id: int, kind: str, network: str) -> AwardOutcome:
    """The shopper opened a follow or share link: award it (once per network, or once per
    the action's period for shares). Not verifiable, and the panel says so."""
    if kind not in (rules.SOCIAL_FOLLOW, rules.SOCIAL_SHARE) or network not in rules.NETWORKS:
        raise ActionNotAvailable("No such way to earn.")
    action = action_find(shop=shop, kind=kind, network=network)
    if action is None or not action.enabled:
        raise ActionNotAvailable("This way to earn is not offered.")
    member_id = _member_id_for(shop, customer_id)
    today = shop_today(shop)
    period = rules.period_key(action.limit, today)
    key = f"{action.key}:{member_id}" + (f":{period}" if period else "")
    return action_award(
        shop=shop, member_id=member_id, kind=kind, network=network, key=key, on=today
    )


# --- newsletter consent (customer webhooks) --------------------------------------------------


def _consent_time(consent: dict[str, Any]) -> datetime | None:
    raw = consent.get("consent_updated_at")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def newsletter_consent_apply(
    *, shop: Shop, member: Member, payload: dict[str, Any]
) -> AwardOutcome:
    """A customers/create or customers/update whose ``email_marketing_consent.state`` is
    ``subscribed`` gives the newsletter points once (``newsletter:<member>``). Consent given
    before the action was turned on does not earn (its ``consent_updated_at`` is older).
    Precondition: inside the webhook's transaction; the member row is locked here."""
    consent = payload.get("email_marketing_consent")
    if not isinstance(consent, dict) or consent.get("state") != "subscribed":
        return AwardOutcome(OFF)
    action = action_find(shop=shop, kind=rules.NEWSLETTER)
    if action is None or not action.enabled:
        return AwardOutcome(OFF)
    given = _consent_time(consent)
    # the platform's times have whole seconds: a consent in the second the action was turned
    # on counts as after it
    on_since = action.enabled_at.replace(microsecond=0) if action.enabled_at else None
    if given is not None and on_since is not None and given < on_since:
        return AwardOutcome(OFF)
    locked = member_lock(shop_id=shop.pk, member_id=member.pk)
    return action_award_locked(
        shop=shop,
        member=locked,
        action=action,
        key=f"newsletter:{member.pk}",
        on=shop_today(shop),
        context=award_context(shop),
    )


# --- the merchant's settings -----------------------------------------------------------------

ACTION_EDITABLE_FIELDS = ("enabled", "points", "limit", "url", "texts")


def earning_action_save(
    *,
    shop: Shop,
    actor: str,
    kind: str,
    network: str = "",
    name: str = "",
    data: dict[str, Any],
) -> EarningAction:
    """Create or change one way to earn (switch, points, limit, link, texts) and audit what
    changed, in one transaction; nothing is written when nothing changed."""
    problem = earning_action_problem(kind=kind, network=network, name=name, data=data)
    if problem is not None:
        raise InvalidConfiguration(problem[1], field=problem[0])
    unknown = set(data) - set(ACTION_EDITABLE_FIELDS)
    if unknown:
        raise InvalidConfiguration(f"Unknown setting(s): {', '.join(sorted(unknown))}")
    with transaction.atomic(durable=True):
        action, created = EarningAction.objects.select_for_update().get_or_create(
            shop=shop, kind=kind, network=network, name=name
        )
        changes: dict[str, list[Any]] = {}
        for field, value in data.items():
            before = getattr(action, field)
            if before != value and not (created and field == "texts" and not value):
                changes[field] = [None if created else before, value]
                setattr(action, field, value)
        if not changes and not created:
            return action
        if "enabled" in changes and action.enabled:
            action.enabled_at = timezone.now()
        action.save()
        audit_record(
            shop=shop,
            actor=actor,
            action="earning_action.update",
            target_type="earning_action",
            target_id=action.pk,
            summary=action.key,
            changes=changes,
        )
    return action


def earning_action_problem(
    *, kind: str, network: str, name: str, data: dict[str, Any]
) -> tuple[str, str] | None:
    """(field, message) of the first setting a way to earn cannot have (None: fine)."""
    if kind not in rules.KINDS:
        return "kind", "Unknown way to earn."
    social = kind in (rules.SOCIAL_FOLLOW, rules.SOCIAL_SHARE)
    if social != bool(network) or (network and network not in rules.NETWORKS):
        return "network", "Choose a network."
    if kind == rules.SOCIAL_SHARE and network not in rules.SHARE_NETWORKS:
        return "network", "This network has no share link."
    if (kind == rules.CUSTOM) != bool(name):
        return "name", "Custom actions need a name."
    if name and not rules.CUSTOM_NAME_RE.match(name):
        return "name", "A name of letters, digits, - and _ (at most 64)."
    points = data.get("points", 0)
    if not isinstance(points, int) or not 0 <= points <= rules.MAX_POINTS:
        return "points", f"Give a number of points from 0 to {rules.MAX_POINTS}."
    if "limit" in data and data["limit"] not in rules.KIND_LIMITS[kind]:
        return "limit", "This way to earn cannot have that limit."
    url = data.get("url", "")
    if kind == rules.SOCIAL_FOLLOW:
        problem = rules.profile_url_problem(network, url)
        if problem:
            return "url", problem
        if data.get("enabled") and not url:
            return "url", "Give the address of your profile to turn this on."
    elif kind == rules.SOCIAL_SHARE and url and not str(url).startswith("https://"):
        return "url", "Give the full https:// address of the page to share."
    return None
