"""Reads behind the storefront: the shop-wide program document (cached per shop) and the
shopper's own data. Plain dicts on the hot read paths; a fixed, small number of queries per
call whatever the size of the shop or of the shopper's history; never a platform API call.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from loyalty.branding import LANGUAGES, branding_resolve
from loyalty.models import (
    BonusEvent,
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    Redemption,
    Reward,
)
from loyalty.selectors import rewards_active
from merchants.models import Shop

HISTORY_PAGE_SIZE = 10
REDEMPTIONS_SHOWN = 20
PENDING_SHOWN = 10
TEXT_LIMIT = 300
# A safety net: saves go through ``program_cache_invalidate`` at once (see apps.py); a bulk
# ``update()`` somewhere is picked up at the latest after this many seconds.
PROGRAM_CACHE_SECONDS = 120

ENTRY_LABELS = {
    LedgerEntry.Kind.ORDER_EARN: "Order {note}",
    LedgerEntry.Kind.ORDER_REFUND: "Refund on order {note}",
    LedgerEntry.Kind.ORDER_CANCEL: "Order {note} cancelled",
    LedgerEntry.Kind.WELCOME: "Welcome points",
    LedgerEntry.Kind.MANUAL: "Adjustment",
    LedgerEntry.Kind.IMPORT: "Imported balance",
    LedgerEntry.Kind.REDEEM: "Redeemed {note}",
    LedgerEntry.Kind.REDEEM_REFUND: "Reward refunded",
    LedgerEntry.Kind.EXPIRE: "Points expired",
    LedgerEntry.Kind.BONUS: "Bonus points",
}
KIND_TITLES = {
    Reward.Kind.FIXED_AMOUNT: "{value} off your order",
    Reward.Kind.PERCENTAGE: "{pct}% off your order",
    Reward.Kind.FREE_SHIPPING: "Free shipping",
    Reward.Kind.FREE_PRODUCT: "Free product",
    Reward.Kind.VARIABLE: "Points discount",
    Reward.Kind.STORE_CREDIT: "Store credit",
}


def iso(value: datetime | None) -> str | None:
    """UTC ISO-8601 with ``Z`` (what the panel's ``Date`` parses everywhere)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def _number(value: Decimal) -> str:
    text = f"{Decimal(value).normalize():f}"
    return text


# --- the shop-wide program document ---------------------------------------------------------


@dataclass(frozen=True)
class CachedDocument:
    body: bytes
    etag: str


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


# --- a per-process memo in front of the shared cache ------------------------------------
# Shop-wide documents change rarely and are read on every storefront request; each worker
# keeps them for ``STOREFRONT_LOCAL_CACHE_SECONDS`` (2 s) so a hot path costs no round trip.
# The process that saves a change drops its memo at once; other workers follow within that
# time. 0 turns the memo off (test settings: test databases reuse ids).
_MEMO: dict[str, tuple[float, Any]] = {}
_MEMO_MAX = 10_000


def memo_seconds() -> float:
    return float(getattr(settings, "STOREFRONT_LOCAL_CACHE_SECONDS", 2.0))


def memo_get(key: str) -> Any:
    if memo_seconds() <= 0:
        return None
    found = _MEMO.get(key)
    if found is None or found[0] < time.monotonic():
        return None
    return found[1]


def memo_set(key: str, value: Any) -> None:
    seconds = memo_seconds()
    if seconds <= 0:
        return
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[key] = (time.monotonic() + seconds, value)


def memo_forget(*keys: str) -> None:
    for key in keys:
        _MEMO.pop(key, None)


def _program_key(shop_id: int) -> str:
    return f"sf:program:{shop_id}"


def _landing_key(shop_id: int) -> str:
    return f"sf:landing:{shop_id}"


def program_cache_invalidate(*, shop_id: int) -> None:
    """Forget the shop's cached program and landing page (call after any change of the
    program, its rewards, bonus events, branding, texts or the shop's name/currency)."""
    keys = [_program_key(shop_id), _landing_key(shop_id)]
    memo_forget(*keys)
    cache.delete_many(keys)


def _texts(program: LoyaltyProgram) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    stored = program.texts if isinstance(program.texts, dict) else {}
    for lang, entries in stored.items():
        if lang not in LANGUAGES or not isinstance(entries, dict):
            continue
        out[lang] = {
            str(k)[:40]: v[:TEXT_LIMIT]
            for k, v in entries.items()
            if isinstance(v, str) and v.strip()
        }
    return out


def _reward_title(reward: Reward, currency: str) -> str:
    if reward.name:
        return reward.name
    pct = _number(reward.value)
    return KIND_TITLES[reward.kind].format(value=f"{reward.value:.2f} {currency}", pct=pct)


def _reward(reward: Reward, currency: str) -> dict[str, Any]:
    variable = None
    if reward.kind == Reward.Kind.VARIABLE:
        step = reward.points_per_unit or 1
        variable = {
            "min_points": reward.min_points or step,
            "max_points": reward.max_points or step * 10_000,
            "points_per_unit": step,
            "unit_value": money(reward.value_per_unit),
        }
    return {
        "id": str(reward.pk),
        "title": _reward_title(reward, currency),
        "kind": reward.kind,
        "points_cost": reward.points_cost if variable is None else None,
        "value": money(reward.value) if variable is None else None,
        "currency": currency,
        "min_subtotal": money(reward.minimum_subtotal or Decimal(0)),
        "variable": variable,
    }


def _reward_order(reward: Reward) -> tuple[int, int]:
    """Cheapest first (a variable reward by its minimum), the same on every database."""
    return (reward.points_cost or reward.min_points or reward.points_per_unit or 0, reward.pk)


def _earning(program: LoyaltyProgram, currency: str, bonuses: list[BonusEvent]) -> list[dict]:
    ratio = _number(program.points_per_currency_unit)
    ways: list[dict[str, Any]] = []
    if program.points_per_currency_unit > 0:
        unit = "point" if ratio == "1" else "points"
        ways.append(
            {
                "key": "order",
                "title": "Place an order",
                "description": f"{ratio} {unit} for every 1 {currency} spent",
                "points_label": f"{ratio} pt / 1 {currency}",
                "done": None,
            }
        )
    if program.welcome_points:
        ways.append(
            {
                "key": "signup",
                "title": "Create an account",
                "description": "",
                "points_label": f"{program.welcome_points} points",
                "done": None,
            }
        )
    for bonus in bonuses:
        ways.append(
            {
                "key": f"bonus-{bonus.pk}",
                "title": bonus.name or "Bonus points",
                "description": f"Until {bonus.ends_at:%Y-%m-%d}",
                "points_label": f"x{_number(bonus.multiplier)} points",
                "done": None,
            }
        )
    return ways


def program_data(*, shop: Shop) -> dict[str, Any]:
    """The shop-wide program: branding, texts, ways to earn, rewards, tiers (3 queries)."""
    program = LoyaltyProgram.objects.filter(shop=shop).first() or LoyaltyProgram(shop=shop)
    now = timezone.now()
    bonuses = list(
        BonusEvent.objects.filter(shop=shop, starts_at__lte=now, ends_at__gt=now).order_by(
            "ends_at", "pk"
        )
    )
    rewards = list(rewards_active(shop=shop)) if program.enabled else []
    branding = branding_resolve(program.branding)
    return {
        "shop": {"name": shop.name or shop.domain.split(".")[0], "currency": shop.currency},
        "enabled": program.enabled,
        "branding": branding,
        "texts": _texts(program),
        "landing": program.landing if isinstance(program.landing, dict) else {},
        "earning": _earning(program, shop.currency, bonuses) if program.enabled else [],
        "rewards": [_reward(r, shop.currency) for r in sorted(rewards, key=_reward_order)],
        "tiers": [],  # no VIP tiers in the domain yet; the panel and page hide the section
    }


def program_document(*, shop: Shop) -> CachedDocument:
    """The program as JSON bytes with its ETag, from the per-shop cache when there."""
    key = _program_key(shop.pk)
    cached = memo_get(key)
    if cached is None:
        cached = cache.get(key)
        if cached is not None:
            memo_set(key, cached)
    if cached is not None:
        return CachedDocument(*cached)
    data = program_data(shop=shop)
    data.pop("landing")
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    doc = CachedDocument(body=body, etag=_etag(body))
    cache.set(key, (doc.body, doc.etag), PROGRAM_CACHE_SECONDS)
    memo_set(key, (doc.body, doc.etag))
    return doc


def landing_document(*, shop: Shop, path_prefix: str, render: Any) -> CachedDocument:
    """The rendered landing page (``render(data) -> str``), cached per shop and prefix."""
    key = _landing_key(shop.pk)
    cached = cache.get(key)
    if cached is not None and cached[0] == path_prefix:
        return CachedDocument(cached[1], cached[2])
    body = render(program_data(shop=shop)).encode()
    doc = CachedDocument(body=body, etag=_etag(body))
    cache.set(key, (path_prefix, doc.body, doc.etag), PROGRAM_CACHE_SECONDS)
    return doc


# --- the shopper ----------------------------------------------------------------------------

MEMBER_FIELDS = (
    "id",
    "shop_id",
    "customer_id",
    "balance",
    "pending_points",
    "lifetime_earned",
    "lifetime_redeemed",
    "birthday",
    "created_at",
)


def member_for_customer(*, shop: Shop, customer_id: int) -> Member | None:
    return Member.objects.filter(shop=shop, customer_id=customer_id).only(*MEMBER_FIELDS).first()


def _entry(entry: LedgerEntry) -> dict[str, Any]:
    label = ENTRY_LABELS.get(entry.kind, "Points").format(note=entry.note or "").strip()
    if entry.bucket == LedgerEntry.Bucket.PENDING:
        label = f"{label} (pending)"
    return {
        "id": str(entry.pk),
        "amount": entry.amount,
        "kind": entry.kind,
        "label": label,
        "created_at": iso(entry.created_at),
    }


def redemption_data(redemption: Redemption) -> dict[str, Any]:
    """One redemption as the panel shows it; the code only once it exists in the store."""
    shown = redemption.status in (Redemption.Status.ISSUED, Redemption.Status.USED)
    code = redemption.code if shown else None
    return {
        "id": str(redemption.pk),
        "code": code,
        "status": redemption.status,
        "reward_title": _reward_title(redemption.reward, redemption.currency),
        "value": money(redemption.value),
        "currency": redemption.currency,
        "points": redemption.points_spent,
        "expires_at": iso(redemption.expires_at),
        "created_at": iso(redemption.created_at),
        "apply_path": f"discount/{code}?redirect=cart" if code and shown else None,
    }


ENTRY_FIELDS = ("id", "amount", "kind", "bucket", "note", "created_at")


def _history_rows(*, shop: Shop, customer_id: int, before: int | None) -> list[LedgerEntry]:
    """One page (+1 to know about the next) of the shopper's entries, newest first, keyset on
    the entry id, each with its member row joined in (1 query)."""
    qs = (
        LedgerEntry.objects.filter(shop=shop, member__customer_id=customer_id)
        .exclude(kind=LedgerEntry.Kind.PENDING_RELEASE)
        .select_related("member")
        .only(*ENTRY_FIELDS, *(f"member__{f}" for f in MEMBER_FIELDS))
        .order_by("-pk")
    )
    if before is not None:
        qs = qs.filter(pk__lt=before)
    return list(qs[: HISTORY_PAGE_SIZE + 1])


def _history(rows: list[LedgerEntry]) -> dict[str, Any]:
    page = rows[:HISTORY_PAGE_SIZE]
    return {
        "entries": [_entry(e) for e in page],
        "next_page": str(page[-1].pk) if len(rows) > HISTORY_PAGE_SIZE else None,
    }


def _done(member: Member) -> list[str]:
    done = ["signup"]  # a member row exists once the shopper has an account with Beam
    if member.birthday:
        done.append("birthday")
    return done


def member_data(*, shop: Shop, customer_id: int, before: int | None = None) -> dict[str, Any]:
    """The shopper's balance, pending points, history page and codes. Queries: 1 for a later
    history page, 2 for the first (+1 with pending points); +1 when the page is empty (the
    member row then comes on its own)."""
    rows = _history_rows(shop=shop, customer_id=customer_id, before=before)
    member = rows[0].member if rows else member_for_customer(shop=shop, customer_id=customer_id)
    if member is None:
        empty = {"balance": 0, "pending": [], "lifetime_earned": 0, "done": []}
        return {
            "member": {**empty, "pending_points": 0, "lifetime_redeemed": 0},
            "history": {"entries": [], "next_page": None},
            "redemptions": [],
        }
    info: dict[str, Any] = {
        "balance": member.balance,
        "pending_points": member.pending_points,
        "pending": [],
        "lifetime_earned": member.lifetime_earned,
        "lifetime_redeemed": member.lifetime_redeemed,
        "done": _done(member),
    }
    data: dict[str, Any] = {"member": info, "history": _history(rows)}
    if before is not None:
        return data
    if member.pending_points > 0:
        info["pending"] = [
            {"points": row["points_pending"], "release_at": iso(row["release_at"])}
            for row in LoyaltyOrder.objects.filter(shop=shop, member=member, points_pending__gt=0)
            .order_by("release_at", "pk")
            .values("points_pending", "release_at")[:PENDING_SHOWN]
        ]
    data["redemptions"] = [
        redemption_data(r)
        for r in Redemption.objects.filter(shop=shop, member=member)
        .select_related("reward")
        .order_by("-pk")[:REDEMPTIONS_SHOWN]
    ]
    return data


def redemption_for_customer(
    *, shop: Shop, customer_id: int, redemption_id: int
) -> Redemption | None:
    """The redemption when it belongs to this shopper of this shop, else None (1 query)."""
    return (
        Redemption.objects.select_related("reward")
        .filter(shop=shop, member__customer_id=customer_id, pk=redemption_id)
        .first()
    )
