"""Program configuration from the embedded admin: settings, branding, rewards, bonus
events, onboarding; each change audited in its own transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from loyalty.audit import audit_record
from loyalty.errors import (
    InvalidConfiguration,
    RewardNotAvailable,
)
from loyalty.models import (
    BonusEvent,
    LoyaltyProgram,
    Reward,
    Tier,
)
from loyalty.rules.rewards import reward_settings_problems
from merchants.errors import BeamError
from merchants.models import Shop


def program_get_or_create(*, shop: Shop) -> LoyaltyProgram:
    """The shop's program settings, created with the defaults on first use."""
    program, _ = LoyaltyProgram.objects.get_or_create(shop=shop)
    return program


# The admin's forms validate input for people; these services re-check the rules that must
# hold whatever the caller (the database constraints back them), lock the row they change,
# and write the ``AuditEvent`` in the same transaction.

PROGRAM_EDITABLE_FIELDS = (
    "enabled",
    "points_per_currency_unit",
    "rounding",
    "include_shipping",
    "include_tax",
    "excluded_product_ids",
    "excluded_product_tags",
    "minimum_order_amount",
    "earn_trigger",
    "pending_days",
    "welcome_points",
    "negative_balance_policy",
    "guest_link_window_days",
    "test_orders_earn",
    "expiry_days",
    "expiry_warning_days",
)
REWARD_EDITABLE_FIELDS = (
    "name",
    "kind",
    "points_cost",
    "value",
    "variant_gid",
    "points_per_unit",
    "value_per_unit",
    "min_points",
    "max_points",
    "minimum_subtotal",
    "code_valid_days",
    "combines_with_order",
    "combines_with_product",
    "combines_with_shipping",
    "min_tier_id",
    "active",
)
BONUS_EVENT_EDITABLE_FIELDS = ("name", "multiplier", "starts_at", "ends_at", "product_tags")


def _changes_apply(obj: models.Model, data: dict[str, Any], allowed: Iterable[str]) -> dict:
    """Set the allowed fields of ``data`` on ``obj``; return ``{field: [before, after]}``."""
    changes: dict[str, list[Any]] = {}
    for name in allowed:
        if name not in data:
            continue
        before, after = getattr(obj, name), data[name]
        if before != after:
            changes[name] = [before, after]
            setattr(obj, name, after)
    unknown = set(data) - set(allowed)
    if unknown:
        raise InvalidConfiguration(
            f"Unknown setting(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0]
        )
    return changes


def _program_check(program: LoyaltyProgram) -> None:
    if program.points_per_currency_unit is None or program.points_per_currency_unit < 0:
        raise InvalidConfiguration(
            "The earning rate cannot be negative.", field="points_per_currency_unit"
        )
    if program.minimum_order_amount is not None and program.minimum_order_amount < 0:
        raise InvalidConfiguration(
            "The minimum order cannot be negative.", field="minimum_order_amount"
        )
    if program.expiry_days is not None and program.expiry_days < 1:
        raise InvalidConfiguration("Points expire after at least 1 day.", field="expiry_days")
    if program.expiry_days and program.expiry_warning_days >= program.expiry_days:
        raise InvalidConfiguration(
            "The warning must come before the points expire.", field="expiry_warning_days"
        )


def _branding_publish_queue(program: LoyaltyProgram) -> list[str]:
    """A branding change goes to the store after the commit (``storefront_sync``); returns
    the fields to save with the change."""
    from loyalty import tasks
    from loyalty.services.ledger import enqueue_on_commit
    from loyalty.services.storefront_sync import branding_publish_mark

    enqueue_on_commit(tasks.branding_publish, program.pk)
    return branding_publish_mark(program)


def _program_lock(shop: Shop) -> LoyaltyProgram:
    program_get_or_create(shop=shop)
    return LoyaltyProgram.objects.select_for_update().get(shop=shop)


def program_update(
    *, shop: Shop, actor: str, data: dict[str, Any], action: str = "program.update"
) -> LoyaltyProgram:
    """Change program settings (earning rule, welcome points, expiry, on/off). Nothing is
    written, audit included, when no value changes."""
    with transaction.atomic(durable=True):
        program = _program_lock(shop)
        changes = _changes_apply(program, data, PROGRAM_EDITABLE_FIELDS)
        if not changes:
            return program
        _program_check(program)
        program.save(update_fields=[*changes, "updated_at"])
        audit_record(
            shop=shop,
            actor=actor,
            action=action,
            target_type="program",
            target_id=program.pk,
            summary=", ".join(sorted(changes)),
            changes=changes,
        )
    return program


def program_set_enabled(*, shop: Shop, actor: str, enabled: bool) -> LoyaltyProgram:
    """Turn the program on or off (off: orders earn nothing, see ``NOT_ELIGIBLE``)."""
    return program_update(
        shop=shop,
        actor=actor,
        data={"enabled": bool(enabled)},
        action="program.enable" if enabled else "program.disable",
    )


def branding_update(
    *,
    shop: Shop,
    actor: str,
    branding: dict[str, Any] | None = None,
    texts: dict[str, Any] | None = None,
    landing: dict[str, Any] | None = None,
) -> LoyaltyProgram:
    """Store the launcher/panel branding (validated by ``loyalty.branding``), shopper text
    overrides and landing page content. Raises ``InvalidBranding`` and changes nothing."""
    from loyalty.branding import branding_validate

    cleaned = branding_validate(branding) if branding is not None else None
    with transaction.atomic(durable=True):
        program = _program_lock(shop)
        data: dict[str, Any] = {}
        if cleaned is not None:
            data["branding"] = cleaned
        if texts is not None:
            data["texts"] = texts
        if landing is not None:
            data["landing"] = landing
        changes = _changes_apply(program, data, ("branding", "texts", "landing"))
        if not changes:
            return program
        published = _branding_publish_queue(program) if "branding" in changes else []
        program.save(update_fields=[*changes, *published, "updated_at"])
        detail = {}
        for name, (before, after) in changes.items():
            if isinstance(after, dict):
                keys = sorted(set(before or {}) | set(after))
                detail.update(
                    {
                        f"{name}.{k}": [(before or {}).get(k), after.get(k)]
                        for k in keys
                        if (before or {}).get(k) != after.get(k)
                    }
                )
        audit_record(
            shop=shop,
            actor=actor,
            action=(
                "branding.update"
                if "branding" in changes
                else "texts.update"
                if "texts" in changes
                else "landing.update"
            ),
            target_type="program",
            target_id=program.pk,
            summary=", ".join(sorted(detail)) or ", ".join(sorted(changes)),
            changes=detail,
        )
    return program


def _reward_check(reward: Reward) -> None:
    """Refuse the first problem the reward rules find in the reward's settings."""
    problems = reward_settings_problems(
        {name: getattr(reward, name) for name in REWARD_EDITABLE_FIELDS}
    )
    if problems:
        field, message = problems[0]
        raise InvalidConfiguration(message, field=field)
    # The form offers the active tiers; a tier archived or tiers turned off later keep the
    # reward exclusive (and out of the catalogue) until the merchant picks again.
    if (
        reward.min_tier_id is not None
        and not Tier.objects.filter(shop_id=reward.shop_id, pk=reward.min_tier_id).exists()
    ):
        raise InvalidConfiguration("Choose one of the program's tiers.", field="min_tier")


def _config_create(
    *,
    shop: Shop,
    actor: str,
    obj: Any,
    data: dict[str, Any],
    fields: Iterable[str],
    check: Callable[[Any], None],
    target_type: str,
    summary: Callable[[Any], str],
) -> Any:
    """Create a shop's configuration row from ``data`` and audit it, in one transaction."""
    with transaction.atomic(durable=True):
        changes = _changes_apply(obj, data, fields)
        check(obj)
        obj.save()
        audit_record(
            shop=shop,
            actor=actor,
            action=f"{target_type}.create",
            target_type=target_type,
            target_id=obj.pk,
            summary=summary(obj),
            changes={k: [None, v[1]] for k, v in changes.items()},
        )
    return obj


def _config_update(
    *,
    shop: Shop,
    actor: str,
    queryset: Any,
    pk: int,
    missing: BeamError,
    data: dict[str, Any],
    fields: Iterable[str],
    check: Callable[[Any], None],
    target_type: str,
    summary: Callable[[Any], str],
) -> Any:
    """Change a shop's configuration row under its lock and audit what changed (nothing is
    written when nothing changed)."""
    with transaction.atomic(durable=True):
        obj = queryset.select_for_update().filter(shop=shop, pk=pk).first()
        if obj is None:
            raise missing
        changes = _changes_apply(obj, data, fields)
        if not changes:
            return obj
        check(obj)
        obj.save(update_fields=list(changes))
        audit_record(
            shop=shop,
            actor=actor,
            action=f"{target_type}.update",
            target_type=target_type,
            target_id=obj.pk,
            summary=summary(obj),
            changes=changes,
        )
    return obj


def _reward_summary(reward: Reward) -> str:
    return reward.name


def _bonus_event_summary(event: BonusEvent) -> str:
    return event.name or f"x{event.multiplier}"


def reward_create(*, shop: Shop, actor: str, data: dict[str, Any]) -> Reward:
    """Add a reward to the catalogue."""
    return _config_create(
        shop=shop,
        actor=actor,
        obj=Reward(shop=shop),
        data=data,
        fields=REWARD_EDITABLE_FIELDS,
        check=_reward_check,
        target_type="reward",
        summary=_reward_summary,
    )


def reward_update(*, shop: Shop, actor: str, reward_id: int, data: dict[str, Any]) -> Reward:
    """Change a reward; issued codes keep the terms they were issued with."""
    return _config_update(
        shop=shop,
        actor=actor,
        queryset=Reward.objects,
        pk=reward_id,
        missing=RewardNotAvailable(),
        data=data,
        fields=REWARD_EDITABLE_FIELDS,
        check=_reward_check,
        target_type="reward",
        summary=_reward_summary,
    )


def _bonus_event_check(event: BonusEvent) -> None:
    if event.multiplier is None or event.multiplier < 1:
        raise InvalidConfiguration("The multiplier must be at least 1.", field="multiplier")
    if event.starts_at is None or event.ends_at is None:
        raise InvalidConfiguration("Give a start and an end.", field="starts_at")
    if event.ends_at <= event.starts_at:
        raise InvalidConfiguration("The event must end after it starts.", field="ends_at")


def bonus_event_create(*, shop: Shop, actor: str, data: dict[str, Any]) -> BonusEvent:
    """Schedule a points multiplier window."""
    return _config_create(
        shop=shop,
        actor=actor,
        obj=BonusEvent(shop=shop),
        data=data,
        fields=BONUS_EVENT_EDITABLE_FIELDS,
        check=_bonus_event_check,
        target_type="bonus_event",
        summary=_bonus_event_summary,
    )


def bonus_event_update(
    *, shop: Shop, actor: str, bonus_event_id: int, data: dict[str, Any]
) -> BonusEvent:
    """Change a bonus event (orders already credited keep their points)."""
    return _config_update(
        shop=shop,
        actor=actor,
        queryset=BonusEvent.objects,
        pk=bonus_event_id,
        missing=InvalidConfiguration("No such bonus event.", field="id"),
        data=data,
        fields=BONUS_EVENT_EDITABLE_FIELDS,
        check=_bonus_event_check,
        target_type="bonus_event",
        summary=_bonus_event_summary,
    )


def bonus_event_delete(*, shop: Shop, actor: str, bonus_event_id: int) -> None:
    """Remove a bonus event (orders already credited keep their points)."""
    with transaction.atomic(durable=True):
        event = BonusEvent.objects.select_for_update().filter(shop=shop, pk=bonus_event_id).first()
        if event is None:
            raise InvalidConfiguration("No such bonus event.", field="id")
        audit_record(
            shop=shop,
            actor=actor,
            action="bonus_event.delete",
            target_type="bonus_event",
            target_id=event.pk,
            summary=_bonus_event_summary(event),
            changes={
                "multiplier": [event.multiplier, None],
                "starts_at": [event.starts_at, None],
                "ends_at": [event.ends_at, None],
            },
        )
        event.delete()


STARTER_REWARDS: tuple[dict[str, Any], ...] = (
    {"name": "$5 off your order", "kind": "fixed_amount", "points_cost": 500, "value": 5},
    {"name": "Free shipping", "kind": "free_shipping", "points_cost": 800, "value": 0},
    {"name": "10% off your order", "kind": "percentage", "points_cost": 1000, "value": 10},
)
ONBOARDING_FIELDS = ("points_per_currency_unit", "welcome_points", "branding", "enabled")


def starter_in_catalogue(spec: dict[str, Any], rewards: Iterable[Reward]) -> Reward | None:
    """The active reward that already is this starter: the same kind and value (a merchant
    who priced "Free shipping" at 300 points has it; the wizard must not add it at 800)."""
    for reward in rewards:
        if reward.active and reward.kind == spec["kind"] and reward.value == Decimal(spec["value"]):
            return reward
    return None


@dataclass(frozen=True)
class OnboardingPlan:
    """What the wizard would change: settings ``{field: [before, after]}``, the starter
    rewards it adds, and the picked starters the catalogue already holds. The review step
    shows it; ``program_onboard`` applies the plan computed the same way under the lock."""

    changes: dict[str, list[Any]]
    rewards_added: list[dict[str, Any]]
    rewards_present: list[Reward]
    launches: bool

    @property
    def empty(self) -> bool:
        return not (self.changes or self.rewards_added or self.launches)


def onboarding_plan(
    *,
    program: LoyaltyProgram,
    rewards: Iterable[Reward],
    points_per_currency_unit: Decimal,
    welcome_points: int,
    starters: Iterable[int],
    branding: dict[str, Any],
    enabled: bool,
) -> OnboardingPlan:
    """The wizard's effect on this program and catalogue, computed without writing."""
    from loyalty.branding import branding_resolve, branding_validate

    wanted = {
        "points_per_currency_unit": Decimal(points_per_currency_unit),
        "welcome_points": int(welcome_points),
        "branding": branding_validate(branding),
        "enabled": bool(enabled),
    }
    current = {name: getattr(program, name) for name in wanted}
    current["branding"] = branding_resolve(program.branding)  # stored sparse, compared whole
    changes = {
        name: [current[name], value] for name, value in wanted.items() if current[name] != value
    }
    catalogue = list(rewards)
    added: list[dict[str, Any]] = []
    present: list[Reward] = []
    for index in sorted(set(starters)):
        spec = STARTER_REWARDS[index]
        existing = starter_in_catalogue(spec, catalogue)
        if existing is None:
            added.append(dict(spec))
        else:
            present.append(existing)
    return OnboardingPlan(
        changes=changes,
        rewards_added=added,
        rewards_present=present,
        launches=program.onboarded_at is None,
    )


def program_onboard(
    *,
    shop: Shop,
    actor: str,
    points_per_currency_unit: Decimal,
    welcome_points: int,
    starters: Iterable[int],
    branding: dict[str, Any],
    enabled: bool = True,
) -> OnboardingPlan:
    """The wizard in one transaction: earning rate, welcome points, the starter rewards the
    catalogue lacks, branding, launch. Re-running it changes only what differs and never
    adds a reward twice. Raises (and writes nothing) on any invalid part."""
    with transaction.atomic(durable=True):
        program = _program_lock(shop)
        plan = onboarding_plan(
            program=program,
            rewards=Reward.objects.filter(shop=shop, active=True),
            points_per_currency_unit=points_per_currency_unit,
            welcome_points=welcome_points,
            starters=starters,
            branding=branding,
            enabled=enabled,
        )
        for name, (_, after) in plan.changes.items():
            setattr(program, name, after)
        _program_check(program)
        fields = list(plan.changes)
        if "branding" in plan.changes:
            fields += _branding_publish_queue(program)
        if program.onboarded_at is None:
            program.onboarded_at = timezone.now()
            fields.append("onboarded_at")
        if fields:
            program.save(update_fields=[*fields, "updated_at"])
        created = []
        for spec in plan.rewards_added:
            reward = Reward(shop=shop)
            _changes_apply(reward, spec, REWARD_EDITABLE_FIELDS)
            _reward_check(reward)
            reward.save()
            created.append(reward.name)
        if not plan.empty:
            audit_record(
                shop=shop,
                actor=actor,
                action="program.onboard",
                target_type="program",
                target_id=program.pk,
                summary=(
                    f"launched with {len(created)} reward(s)"
                    if plan.launches
                    else f"setup re-run: {len(plan.changes)} setting(s), {len(created)} reward(s)"
                ),
                changes={**plan.changes, **({"rewards": [None, created]} if created else {})},
            )
    return plan
