"""Reads of the ways to earn other than orders: the entries of the program document (the
panel, the landing page), the shopper's birthday with the day its gift comes, and the admin's
list of every way to earn with its settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Max
from django.utils import timezone

from loyalty.analytics.services import shop_zone
from loyalty.branding import LANGUAGES
from loyalty.models_earning import ActionAward, EarningAction, MemberBirthday
from loyalty.rules import earning_actions as rules
from merchants.models import Shop

SOCIAL = (rules.SOCIAL_FOLLOW, rules.SOCIAL_SHARE)


def _order(action: EarningAction) -> tuple[int, str, str]:
    kinds = [b.kind for b in rules.BUILT_IN]
    rank = kinds.index(action.kind) if action.kind in kinds else len(kinds)
    networks = list(rules.NETWORKS)
    return rank, f"{networks.index(action.network):02d}" if action.network else "", action.name


def earning_actions_shown(*, shop: Shop) -> list[EarningAction]:
    """The ways to earn shoppers see: on and giving points, in the admin's order (1 query)."""
    actions = EarningAction.objects.filter(shop=shop, enabled=True, points__gt=0)
    return sorted(actions, key=_order)


def action_link(shop: Shop, action: EarningAction) -> str | None:
    """Where a social action's button goes: the profile followed, or the network's share
    intent for the page shared (the store's home page unless the merchant chose one)."""
    if action.kind == rules.SOCIAL_FOLLOW:
        return action.url or None
    if action.kind == rules.SOCIAL_SHARE:
        return rules.share_intent_url(action.network, action.url or f"https://{shop.domain}/")
    return None


def earning_action_ways(
    *, shop: Shop, actions: Iterable[EarningAction], languages: Iterable[str] = LANGUAGES
) -> list[dict[str, Any]]:
    """The program document's entries of these actions: ``key`` (what ``me``'s done list
    names), ``kind``, English ``title``/``description`` and ``texts`` per language,
    ``points``, ``limit``, and for social actions the ``url`` to open and
    ``verified: false`` (clicks are taken on trust, and the panel says so)."""
    langs = list(languages)
    ways: list[dict[str, Any]] = []
    for action in actions:
        texts = rules.action_texts(
            kind=action.kind,
            network=action.network,
            name=action.name,
            stored=action.texts if isinstance(action.texts, dict) else {},
            languages=sorted({"en", *langs}),
        )
        entry: dict[str, Any] = {
            "key": action.key,
            "kind": action.kind,
            "title": texts["en"]["title"],
            "description": texts["en"]["description"],
            "texts": {lang: texts[lang] for lang in langs if lang != "en"},
            "points": action.points,
            "points_label": f"{action.points} points",
            "limit": action.limit,
            "done": None,
        }
        if action.kind in SOCIAL:
            entry.update(network=action.network, url=action_link(shop, action), verified=False)
        ways.append(entry)
    return ways


# --- birthdays ------------------------------------------------------------------------------


def birthday_set_on(shop: Shop, row: MemberBirthday) -> date:
    """The shop day the birthday was set or last changed (the 30-day notice counts from it):
    ``updated_at``, which ``member_birthday_set`` moves only when the month or day changes."""
    return row.updated_at.astimezone(shop_zone(shop)).date()


def birthday_last_gifts(*, action: EarningAction, member_ids: Iterable[int]) -> dict[int, date]:
    """The birthday each member's last gift was for (the 12-month rule reads it), by member."""
    return dict(
        ActionAward.objects.filter(action=action, member_id__in=list(member_ids))
        .values("member_id")
        .annotate(on=Max("occurred_on"))
        .values_list("member_id", "on")
    )


def birthday_document(
    *, shop: Shop, customer_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """The shopper's birthday as the panel's confirmation and the account page show it:
    ``birthday`` (month, day, year; None until entered), ``offered`` (the birthday way to
    earn is on), ``gift_on`` (ISO day of the next gift, shop time; None when not offered or
    not entered) and ``first_gift`` (no birthday gift was given before). 3 queries."""
    row = MemberBirthday.objects.filter(shop=shop, member__customer_id=customer_id).first()
    action = EarningAction.objects.filter(
        shop=shop, kind=rules.BIRTHDAY, network="", name="", enabled=True, points__gt=0
    ).first()
    body: dict[str, Any] = {
        "birthday": None,
        "offered": action is not None,
        "gift_on": None,
        "first_gift": True,
    }
    if row is None:
        return body
    body["birthday"] = {"month": row.month, "day": row.day, "year": row.year}
    if action is None:
        return body
    last = birthday_last_gifts(action=action, member_ids=[row.member_id]).get(row.member_id)
    gift_on = rules.birthday_next_gift(
        month=row.month,
        day=row.day,
        today=(now or timezone.now()).astimezone(shop_zone(shop)).date(),
        set_on=birthday_set_on(shop, row),
        last_gift_for=last,
    )
    body.update(gift_on=gift_on.isoformat(), first_gift=last is None)
    return body


# --- the admin's list ----------------------------------------------------------------------


@dataclass(frozen=True)
class ActionRow:
    """One way to earn on the admin page: its stored row (None: never saved, so off with
    the built-in defaults) and what the form offers."""

    kind: str
    network: str
    name: str
    points: int
    enabled: bool
    limit: str
    limits: tuple[str, ...]
    url: str
    texts: dict[str, dict[str, str]]
    stored: EarningAction | None

    @property
    def key(self) -> str:
        return rules.action_key(self.kind, self.network, self.name)

    @property
    def slug(self) -> str:
        """The key as an HTML id / form prefix."""
        return self.key.replace(":", "-")

    @property
    def title(self) -> str:
        return rules.action_texts(
            kind=self.kind, network=self.network, name=self.name, stored={}, languages=["en"]
        )["en"]["title"]


def earning_actions_admin(*, shop: Shop) -> list[ActionRow]:
    """Every built-in way to earn (stored or not), then the shop's other stored actions
    (custom ones), in order (1 query)."""
    stored = {a.key: a for a in EarningAction.objects.filter(shop=shop)}
    rows: list[ActionRow] = []
    for spec in rules.BUILT_IN:
        key = rules.action_key(spec.kind, spec.network)
        row = stored.pop(key, None)
        rows.append(_row(spec.kind, spec.network, "", spec, row))
    for action in sorted(stored.values(), key=_order):
        limits = rules.KIND_LIMITS[action.kind]
        spec = rules.BuiltIn(action.kind, action.network, 0, rules.ONCE, limits)
        rows.append(_row(action.kind, action.network, action.name, spec, action))
    return rows


def _row(
    kind: str, network: str, name: str, spec: rules.BuiltIn, row: EarningAction | None
) -> ActionRow:
    return ActionRow(
        kind=kind,
        network=network,
        name=name,
        points=row.points if row else spec.points,
        enabled=row.enabled if row else False,
        limit=row.limit if row else spec.limit,
        limits=spec.limits,
        url=row.url if row else "",
        texts=row.texts if row and isinstance(row.texts, dict) else {},
        stored=row,
    )
