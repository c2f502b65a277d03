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
from django.db import connection
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
    doc = memo_get(key)  # the document itself (immutable), shared by the process's requests
    if doc is not None:
        return doc
    cached = cache.get(key)
    if cached is not None:
        doc = CachedDocument(*cached)
    else:
        data = program_data(shop=shop)
        data.pop("landing")
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        doc = CachedDocument(body=body, etag=_etag(body))
        cache.set(key, (doc.body, doc.etag), PROGRAM_CACHE_SECONDS)
    memo_set(key, doc)
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


# The shopper's read runs on every panel open: hand-written SQL with plain tuples, because
# compiling the equivalent querysets and building model instances cost several times more CPU
# than the database work itself. Portable SQL (SQLite and PostgreSQL); the values are
# normalised below (SQLite hands back naive UTC datetimes and may hand back floats).


def _tables() -> dict[str, str]:
    return {
        "member": Member._meta.db_table,
        "entry": LedgerEntry._meta.db_table,
        "redemption": Redemption._meta.db_table,
        "reward": Reward._meta.db_table,
    }


def _history_sql(*, keyset: bool) -> str:
    """The member row with one page (+1) of its entries, newest first (LEFT JOIN: a member
    without entries still comes back, once, with NULL entry columns)."""
    t = _tables()
    page = " AND e.id < %s" if keyset else ""
    return (
        "SELECT m.id, m.balance, m.pending_points, m.lifetime_earned, m.lifetime_redeemed,"  # noqa: S608 - constants only
        " m.birthday, e.id, e.amount, e.kind, e.bucket, e.note, e.created_at"
        f" FROM {t['member']} m LEFT JOIN {t['entry']} e ON e.member_id = m.id"
        f" AND e.shop_id = m.shop_id AND e.kind <> %s{page}"
        " WHERE m.shop_id = %s AND m.customer_id = %s"
        f" ORDER BY e.id DESC LIMIT {HISTORY_PAGE_SIZE + 1}"
    )


def _redemptions_sql() -> str:
    t = _tables()
    return (
        "SELECT r.id, r.code, r.status, r.value, r.currency, r.points_spent, r.expires_at,"  # noqa: S608 - constants only
        " r.created_at, w.name, w.kind, w.value"
        f" FROM {t['redemption']} r JOIN {t['reward']} w ON w.id = r.reward_id"
        " WHERE r.shop_id = %s AND r.member_id = %s"
        f" ORDER BY r.id DESC LIMIT {REDEMPTIONS_SHOWN}"
    )


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _entry_row(
    entry_id: int, amount: int, kind: str, bucket: str, note: str, created: Any
) -> dict[str, Any]:
    label = ENTRY_LABELS.get(kind, "Points").format(note=note or "").strip()
    if bucket == LedgerEntry.Bucket.PENDING:
        label = f"{label} (pending)"
    return {
        "id": str(entry_id),
        "amount": amount,
        "kind": kind,
        "label": label,
        "created_at": iso(_aware(created)),
    }


def _redemption_row(row: tuple) -> dict[str, Any]:
    """``redemption_data`` of one ``_redemptions_sql`` row (the same dict, no model)."""
    pk, code, status, value, currency, points, expires_at, created_at, name, kind, rvalue = row
    reward = Reward(name=name or "", kind=kind, value=_decimal(rvalue))
    shown = status in (Redemption.Status.ISSUED, Redemption.Status.USED)
    code = code if shown else None
    return {
        "id": str(pk),
        "code": code,
        "status": status,
        "reward_title": _reward_title(reward, currency),
        "value": money(_decimal(value)),
        "currency": currency,
        "points": points,
        "expires_at": iso(_aware(expires_at)),
        "created_at": iso(_aware(created_at)),
        "apply_path": f"discount/{code}?redirect=cart" if code and shown else None,
    }


def _done_of(birthday: Any) -> list[str]:
    done = ["signup"]  # a member row exists once the shopper has an account with Beam
    if birthday:
        done.append("birthday")
    return done


def member_data(*, shop: Shop, customer_id: int, before: int | None = None) -> dict[str, Any]:
    """The shopper's balance, pending points, history page and codes. Queries: 1 for a later
    history page or a shopper without a member row; 2 for the first page (member with its
    history, codes), +1 with pending points. Always read fresh from the database."""
    params: list[Any] = [LedgerEntry.Kind.PENDING_RELEASE]
    if before is not None:
        params.append(before)
    params += [shop.pk, customer_id]
    with connection.cursor() as cursor:
        cursor.execute(_history_sql(keyset=before is not None), params)
        rows = cursor.fetchall()
    if not rows:
        empty = {"balance": 0, "pending": [], "lifetime_earned": 0, "done": []}
        return {
            "member": {**empty, "pending_points": 0, "lifetime_redeemed": 0},
            "history": {"entries": [], "next_page": None},
            "redemptions": [],
        }
    member_id, balance, pending_points, earned, redeemed, birthday = rows[0][:6]
    entries = [r[6:] for r in rows if r[6] is not None]
    page = entries[:HISTORY_PAGE_SIZE]
    info: dict[str, Any] = {
        "balance": balance,
        "pending_points": pending_points,
        "pending": [],
        "lifetime_earned": earned,
        "lifetime_redeemed": redeemed,
        "done": _done_of(birthday),
    }
    history = {
        "entries": [_entry_row(*e) for e in page],
        "next_page": str(page[-1][0]) if len(entries) > HISTORY_PAGE_SIZE else None,
    }
    data: dict[str, Any] = {"member": info, "history": history}
    if before is not None:
        return data
    if pending_points > 0:
        info["pending"] = [
            {"points": row["points_pending"], "release_at": iso(row["release_at"])}
            for row in LoyaltyOrder.objects.filter(
                shop=shop, member_id=member_id, points_pending__gt=0
            )
            .order_by("release_at", "pk")
            .values("points_pending", "release_at")[:PENDING_SHOWN]
        ]
    with connection.cursor() as cursor:
        cursor.execute(_redemptions_sql(), [shop.pk, member_id])
        data["redemptions"] = [_redemption_row(r) for r in cursor.fetchall()]
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
