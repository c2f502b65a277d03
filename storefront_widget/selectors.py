"""Reads behind the storefront: the shop-wide program document cached per shop, and the
shopper's own data. The documents themselves are built by ``loyalty.selectors``; this module
caches them and reads the shopper's rows with a fixed, small number of queries whatever the
size of the shop or of the shopper's history; never a platform API call.
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

from loyalty.errors import RedemptionNotFound
from loyalty.models import (
    ActionAward,
    EarningAction,
    LedgerEntry,
    LoyaltyOrder,
    Member,
    MemberBirthday,
    Redemption,
    Reward,
    TierSettings,
)
from loyalty.rules.earning_actions import BIRTHDAY, action_key, period_key
from loyalty.rules.rewards import (
    reward_channel_refusal,
    reward_entry_cost,
    reward_points_for_balance,
    reward_tier_refusal,
    variable_value,
)
from loyalty.rules.tiers import MemberTier
from loyalty.selectors import (
    iso,
    ledger_entry_label,
    member_ledger,
    member_redemptions,
    member_tier_document,
    money,
    program_document,
    program_get,
    program_rewards,
    redemption_data,
    redemption_document,
    reward_document,
)
from loyalty.services.earning_actions import shop_today
from merchants.models import Shop

HISTORY_PAGE_SIZE = 10
AWARDS_READ = 200
REDEMPTIONS_SHOWN = 20
PENDING_SHOWN = 10
# A safety net: saves go through ``program_cache_invalidate`` at once (see apps.py); a bulk
# ``update()`` somewhere is picked up at the latest after this many seconds.
PROGRAM_CACHE_SECONDS = 120

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


def program_document_cached(*, shop: Shop) -> CachedDocument:
    """``program_document`` as JSON bytes with its ETag, from the per-shop cache when
    there (the app proxy's ``program``)."""
    key = _program_key(shop.pk)
    doc = memo_get(key)  # the document itself (immutable), shared by the process's requests
    if doc is not None:
        return doc
    cached = cache.get(key)
    if cached is not None:
        doc = CachedDocument(*cached)
    else:
        data = program_document(shop=shop)
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        doc = CachedDocument(body=body, etag=_etag(body))
        cache.set(key, (doc.body, doc.etag), PROGRAM_CACHE_SECONDS)
    memo_set(key, doc)
    return doc


def landing_data(*, shop: Shop) -> dict[str, Any]:
    """The program document with the merchant's landing settings (3 queries)."""
    program = program_get(shop=shop)
    landing = program.landing if isinstance(program.landing, dict) else {}
    return {**program_document(shop=shop, program=program), "landing": landing}


def landing_document(*, shop: Shop, variant: str, render: Any) -> CachedDocument:
    """The rendered guest landing page (``render(data) -> str``), cached per shop for one
    ``variant`` (the proxy prefix and language it was rendered for)."""
    key = _landing_key(shop.pk)
    cached = cache.get(key)
    if cached is not None and cached[0] == variant:
        return CachedDocument(cached[1], cached[2])
    body = render(landing_data(shop=shop)).encode()
    doc = CachedDocument(body=body, etag=_etag(body))
    cache.set(key, (variant, doc.body, doc.etag), PROGRAM_CACHE_SECONDS)
    return doc


# --- the shopper ----------------------------------------------------------------------------

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
        "tiers": TierSettings._meta.db_table,
        "birthday": MemberBirthday._meta.db_table,
        "award": ActionAward._meta.db_table,
        "action": EarningAction._meta.db_table,
    }


def _history_sql(*, keyset: bool) -> str:
    """The member row with one page (+1) of its entries, newest first (LEFT JOIN: a member
    without entries still comes back, once, with NULL entry columns)."""
    t = _tables()
    page = " AND e.id < %s" if keyset else ""
    return (
        "SELECT m.id, m.balance, m.pending_points, m.lifetime_earned, m.lifetime_redeemed,"  # noqa: S608 - constants only
        " b.month, m.tier_id, m.earned_tier_id, m.tier_expires_at, m.granted_tier_id,"
        " m.grant_ends_at, ts.enabled, b.day, b.year,"
        " e.id, e.amount, e.kind, e.bucket, e.note, e.created_at"
        f" FROM {t['member']} m LEFT JOIN {t['tiers']} ts ON ts.shop_id = m.shop_id"
        f" LEFT JOIN {t['birthday']} b ON b.member_id = m.id"
        f" LEFT JOIN {t['entry']} e ON e.member_id = m.id"
        f" AND e.shop_id = m.shop_id AND e.kind <> %s{page}"
        " WHERE m.shop_id = %s AND m.customer_id = %s"
        f" ORDER BY e.id DESC LIMIT {HISTORY_PAGE_SIZE + 1}"
    )


def _redemptions_sql() -> str:
    t = _tables()
    return (
        "SELECT r.id, r.code, r.status, w.name, w.kind, w.value, r.value, r.currency,"  # noqa: S608 - constants only
        " r.points_spent, r.channel, r.expires_at, r.created_at"
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
    return {
        "id": str(entry_id),
        "amount": amount,
        "kind": kind,
        "label": ledger_entry_label(kind=kind, note=note, bucket=bucket),
        "created_at": iso(_aware(created)),
    }


def _redemption_row(row: tuple) -> dict[str, Any]:
    """``redemption_document`` of one ``_redemptions_sql`` row (no model built)."""
    pk, code, status, name, kind, reward_value, value, currency, points, channel = row[:10]
    return redemption_document(
        redemption_id=pk,
        code=code,
        status=status,
        reward_name=name or "",
        reward_kind=kind,
        reward_value=_decimal(reward_value),
        value=_decimal(value),
        currency=currency,
        points=points,
        channel=channel,
        expires_at=_aware(row[10]),
        created_at=_aware(row[11]),
    )


def _awards_sql() -> str:
    """The member's unreversed awards, newest first, with their action's key parts."""
    t = _tables()
    return (
        'SELECT a.kind, a.network, a.name, a."limit", w.period'  # noqa: S608 - constants only
        f" FROM {t['award']} w JOIN {t['action']} a ON a.id = w.action_id"
        " WHERE w.shop_id = %s AND w.member_id = %s AND w.reversed_at IS NULL"
        f" ORDER BY w.id DESC LIMIT {AWARDS_READ}"
    )


def _done_of(shop: Shop, birthday: Any, awards: list[tuple]) -> list[str]:
    """The ways to earn the member has done: joined, entered a birthday, and every action
    awarded in its current period (once: ever) — the panel marks them done."""
    done = ["signup"]  # a member row exists once the shopper has an account with Beam
    if birthday:
        done.append("birthday")
    today = shop_today(shop)
    for kind, network, name, limit, period in awards:
        key = action_key(kind, network, name)
        if kind != BIRTHDAY and period == period_key(limit, today) and key not in done:
            done.append(key)
    return done


def member_data(*, shop: Shop, customer_id: int, before: int | None = None) -> dict[str, Any]:
    """The shopper's balance, pending points, birthday, history page, ways to earn done and
    codes. Queries: 1 for a later history page or a shopper without a member row; 3 for the
    first page (member with its birthday and history, awards, codes), +1 with pending
    points. Always read fresh from the database."""
    params: list[Any] = [LedgerEntry.Kind.PENDING_RELEASE]
    if before is not None:
        params.append(before)
    params += [shop.pk, customer_id]
    with connection.cursor() as cursor:
        cursor.execute(_history_sql(keyset=before is not None), params)
        rows = cursor.fetchall()
    if not rows:
        empty = {
            "balance": 0,
            "pending": [],
            "lifetime_earned": 0,
            "done": [],
            "birthday": None,
            "tier": None,
        }
        return {
            "member": {**empty, "pending_points": 0, "lifetime_redeemed": 0},
            "history": {"entries": [], "next_page": None},
            "redemptions": [],
        }
    member_id, balance, pending_points, earned, redeemed, b_month = rows[0][:6]
    tier_id, earned_tier, expires, granted_tier, grant_end, tiers_on = rows[0][6:12]
    b_day, b_year = rows[0][12:14]
    entries = [r[14:] for r in rows if r[14] is not None]
    page = entries[:HISTORY_PAGE_SIZE]
    info: dict[str, Any] = {
        "balance": balance,
        "pending_points": pending_points,
        "pending": [],
        "lifetime_earned": earned,
        "lifetime_redeemed": redeemed,
        "done": [],
        "birthday": None if b_month is None else {"month": b_month, "day": b_day, "year": b_year},
        "tier": None,
    }
    history = {
        "entries": [_entry_row(*e) for e in page],
        "next_page": str(page[-1][0]) if len(entries) > HISTORY_PAGE_SIZE else None,
    }
    data: dict[str, Any] = {"member": info, "history": history}
    if before is not None:
        return data
    with connection.cursor() as cursor:
        cursor.execute(_awards_sql(), [shop.pk, member_id])
        info["done"] = _done_of(shop, b_month, cursor.fetchall())
    if tiers_on:
        state = MemberTier(earned_tier, _aware(expires), granted_tier, _aware(grant_end))
        info["tier"] = member_tier_document(
            shop=shop, member_id=member_id, tier_id=tier_id, state=state
        )
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
    *, shop: Shop, customer_id: int, redemption_id: str | int
) -> Redemption:
    """The redemption when it belongs to this shopper of this shop (1 query); anything else
    (someone else's, a malformed id) is the same ``RedemptionNotFound``."""
    text = str(redemption_id)
    found = (
        Redemption.objects.select_related("reward")
        .filter(shop=shop, member__customer_id=customer_id, pk=int(text))
        .first()
        if text.isdigit() and len(text) <= 19
        else None
    )
    if found is None:
        raise RedemptionNotFound()
    return found


def redemption_for_customer_code(*, shop: Shop, customer_id: int, code: str) -> Redemption:
    """The shopper's redemption of this code (1 query); a code of someone else's or none at
    all is the same ``RedemptionNotFound``."""
    found = (
        Redemption.objects.select_related("reward")
        .filter(shop=shop, member__customer_id=customer_id, code=code.strip().upper())
        .order_by("-pk")
        .first()
    )
    if found is None:
        raise RedemptionNotFound()
    return found


# --- the UI extensions (checkout, customer account) --------------------------------------------


def member_summary(member: Member | None) -> dict[str, int]:
    """Balance figures; a customer who never earned has a zero balance, not an error."""
    if member is None:
        return {"balance": 0, "pending": 0, "lifetime_earned": 0}
    return {
        "balance": member.balance,
        "pending": member.pending_points,
        "lifetime_earned": member.lifetime_earned,
    }


def reward_offers(
    *, shop: Shop, balance: int, channel: str, tier_rank: int | None = None
) -> list[dict[str, Any]]:
    """The program document's rewards (same ids, titles, prices) that ``channel`` can
    redeem, each with what it would take from ``balance``: ``points`` (a variable reward's
    most for this balance, else its minimum), ``variable_points``, ``value`` for those points
    and ``affordable``; ``locked`` when it is for a higher tier than ``tier_rank`` (the
    member's, ``member_tier_rank``), and then not affordable."""
    offers: list[dict[str, Any]] = []
    for reward in program_rewards(shop=shop, program=program_get(shop=shop)):
        if reward_channel_refusal(reward, channel):
            continue
        document = reward_document(reward, shop.currency)
        if reward.kind == Reward.Kind.VARIABLE:
            chosen = reward_points_for_balance(reward, balance)
            cost = chosen or reward_entry_cost(reward)
            value = money(variable_value(reward, chosen or 0))
            affordable = chosen is not None
        else:
            chosen, cost, value = None, reward_entry_cost(reward), document["value"]
            affordable = balance >= cost
        locked = reward.min_tier is not None and bool(
            reward_tier_refusal(
                required_name=reward.min_tier.name,
                required_rank=reward.min_tier.rank,
                member_rank=tier_rank,
            )
        )
        offers.append(
            {
                **document,
                "name": document["title"],
                "points": cost,
                "variable_points": chosen,
                "value": value,
                "affordable": affordable and not locked,
                "locked": locked,
            }
        )
    return offers


def member_history(*, shop: Shop, member: Member | None, limit: int) -> dict[str, Any]:
    """The member's newest ledger entries (``entries_next``: the cursor of the older ones,
    null when none) and redemptions (the customer account page), in the storefront's
    wording and serialisation."""
    if member is None:
        return {"entries": [], "entries_next": None, "redemptions": []}
    entries, more = member_entries_page(shop=shop, member=member, before=None, limit=limit)
    redemptions = [redemption_data(r) for r in member_redemptions(shop=shop, member=member)[:limit]]
    return {"entries": entries, "entries_next": more, "redemptions": redemptions}


def member_entries_page(
    *, shop: Shop, member: Member | None, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the member's ledger entries older than the entry ``before`` (newest
    first, by id: the ledger is append-only) and the cursor of the next page (None at the
    end). One query; ``limit + 1`` rows read to know whether more exist."""
    if member is None:
        return [], None
    rows = member_ledger(shop=shop, member=member).order_by("-pk")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    found = list(rows[: limit + 1])
    entries: list[dict[str, Any]] = [
        {
            "id": str(e.pk),
            "amount": e.amount,
            "kind": e.kind,
            "label": ledger_entry_label(kind=e.kind, note=e.note, bucket=e.bucket),
            "note": e.note,
            "bucket": e.bucket,
            "created_at": iso(e.created_at),
        }
        for e in found[:limit]
    ]
    return entries, str(found[limit - 1].pk) if len(found) > limit else None


ORDER_STATUS = {
    LoyaltyOrder.State.OPEN: "processing",
    LoyaltyOrder.State.GUEST: "guest",
    LoyaltyOrder.State.NOT_ELIGIBLE: "not_eligible",
    LoyaltyOrder.State.CANCELLED: "cancelled",
}


def order_points_for_customer(
    *, shop: Shop, customer_id: int, order_id: int
) -> tuple[LoyaltyOrder, dict[str, Any]] | None:
    """The customer's own order and its points; ``None`` for an unknown order and for
    someone else's (the two are indistinguishable to the caller)."""
    order = (
        LoyaltyOrder.objects.filter(shop=shop, order_id=order_id).select_related("member").first()
    )
    if order is None:
        return None
    owner = order.member.customer_id if order.member is not None else order.customer_id
    if owner != customer_id:
        return None
    if order.state == LoyaltyOrder.State.CREDITED:
        status = "pending" if order.points_pending > 0 else "credited"
    else:
        status = ORDER_STATUS.get(LoyaltyOrder.State(order.state), "processing")
    return order, {
        "id": order.order_id,
        "name": order.name,
        "status": status,
        "points": order.points_earned - order.points_reversed
        if order.state == LoyaltyOrder.State.CREDITED
        else order.points_due,
        "pending_points": order.points_pending,
        "release_at": order.release_at.isoformat() if order.release_at else None,
    }
