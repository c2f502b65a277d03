"""The yearly ways to earn: birthday gifts and membership anniversaries, given by a periodic
job (``loyalty.tasks.earning_actions_yearly_due``, hourly).

For each shop with the action on, the job takes *today in the shop's time zone*, finds the
members whose day it is through an index (birthdays: ``MemberBirthday (shop, month, day)``;
anniversaries: ``Member (shop, created_at)`` over one day-range per earlier year), and
awards them in batches, each batch one transaction with its members locked in pk order.
Awards are keyed by member and year (``birthday:<member>:<year>``,
``anniversary:<member>:<year>``), so every run of the day after the first finds nothing to
do, and a job that runs late in the day still gives the day's gifts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from loyalty.analytics.services import day_start, shop_zone
from loyalty.lock_objects import member_qs_select_for_update
from loyalty.models import Member
from loyalty.models_earning import ActionAward, EarningAction, MemberBirthday
from loyalty.rules import earning_actions as rules
from loyalty.selectors_earning import birthday_last_gifts, birthday_set_on
from loyalty.services.earning_actions import (
    AWARDED,
    action_award_locked,
    award_context,
    shop_today,
)
from merchants.models import Shop

BATCH = 500


def _batches(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _awarded(action: EarningAction, today: date) -> QuerySet[ActionAward, Any]:
    """The members who already have this yearly action's award of ``today``'s year."""
    return ActionAward.objects.filter(
        action=action, period=rules.period_key(rules.YEAR, today)
    ).values("member_id")


def earning_actions_yearly_due(*, now: datetime | None = None) -> int:
    """Give today's birthday gifts and anniversary points in every shop (each shop's own
    today); returns the awards given."""
    now = now or timezone.now()
    given = 0
    actions = EarningAction.objects.filter(
        kind__in=(rules.BIRTHDAY, rules.ANNIVERSARY), enabled=True, points__gt=0
    ).select_related("shop")
    for action in actions.order_by("pk"):
        if action.shop.uninstalled_at is not None:
            continue
        if action.kind == rules.BIRTHDAY:
            given += birthdays_award_shop(shop=action.shop, action=action, now=now)
        else:
            given += anniversaries_award_shop(shop=action.shop, action=action, now=now)
    return given


def birthdays_award_shop(*, shop: Shop, action: EarningAction, now: datetime) -> int:
    """The shop's members whose birthday is today (shop time; 29 February on 28 February
    in other years) get the gift, unless they set it less than 30 days ago or their last
    gift was for a day less than 12 months ago (a changed birthday)."""
    today = shop_today(shop, now)
    days = Q()
    for month, day in rules.yearly_days(today):
        days |= Q(month=month, day=day)
    ids = list(
        MemberBirthday.objects.filter(shop=shop)
        .filter(days)
        .exclude(member_id__in=_awarded(action, today))
        .order_by("member_id")
        .values_list("member_id", flat=True)
    )
    given = 0
    for batch in _batches(ids):
        with transaction.atomic(durable=True):
            context = award_context(shop)
            members = list(member_qs_select_for_update().filter(shop=shop, pk__in=batch))
            birthdays = {
                b.member_id: b
                for b in MemberBirthday.objects.filter(shop=shop, member_id__in=batch)
            }
            last = birthday_last_gifts(action=action, member_ids=batch)
            for member in members:
                birthday = birthdays.get(member.pk)
                if birthday is None or member.redacted:
                    continue
                due = rules.birthday_due(
                    month=birthday.month,
                    day=birthday.day,
                    today=today,
                    set_on=birthday_set_on(shop, birthday),
                    last_gift_for=last.get(member.pk),
                )
                if due is None:
                    continue
                outcome = action_award_locked(
                    shop=shop,
                    member=member,
                    action=action,
                    key=f"birthday:{member.pk}:{due.year}",
                    on=due,
                    context=context,
                )
                given += outcome.status == AWARDED
    return given


def _joined_ranges(shop: Shop, today: date, first: date) -> Q:
    """created_at ranges of the members whose membership anniversary is ``today``: that
    local day of every earlier year since ``first`` (29 February on 28 February)."""
    zone = shop_zone(shop)
    ranges = Q()
    for year in range(first.year, today.year):
        for month, day in rules.yearly_days(today):
            try:
                joined = date(year, month, day)
            except ValueError:
                continue  # 29 February of a year without one
            start = day_start(joined, zone)
            ranges |= Q(
                created_at__gte=start, created_at__lt=day_start(joined + timedelta(1), zone)
            )
    return ranges


def anniversaries_award_shop(*, shop: Shop, action: EarningAction, now: datetime) -> int:
    """The shop's members who joined on this day of an earlier year (shop time) get the
    anniversary points, once per year."""
    today = shop_today(shop, now)
    members = Member.objects.filter(shop=shop)
    first = members.order_by("created_at").values_list("created_at", flat=True).first()
    if first is None:
        return 0
    ranges = _joined_ranges(shop, today, first.astimezone(shop_zone(shop)).date())
    if not ranges:
        return 0
    ids = list(
        members.filter(ranges, redacted=False)
        .exclude(pk__in=_awarded(action, today))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    zone = shop_zone(shop)
    given = 0
    for batch in _batches(ids):
        with transaction.atomic(durable=True):
            context = award_context(shop)
            for member in member_qs_select_for_update().filter(shop=shop, pk__in=batch):
                joined = member.created_at.astimezone(zone).date()
                if rules.anniversary_due(joined=joined, today=today) is None:
                    continue
                outcome = action_award_locked(
                    shop=shop,
                    member=member,
                    action=action,
                    key=f"anniversary:{member.pk}:{today.year}",
                    on=today,
                    context=context,
                )
                given += outcome.status == AWARDED
    return given
