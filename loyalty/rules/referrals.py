"""Referral decisions, pure: codes, email normalisation and similarity, the fraud checks
(each a named reason the merchant reads), the cap per advocate and period, the settings a
referral program may have, and the share links of a referral link.

No queries and no writes: the services (``loyalty.services.referrals``) read what a check
needs (the advocate, the order, counts) and apply the verdict. The list of disposable email
domains is a data file shipped with the app (``loyalty/data/README.md``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from loyalty.rules.codes import CODE_ALPHABET, code_generate
from loyalty.rules.earning_actions import MONTH, ONCE, YEAR, period_key, share_intent_url

OFFER_AMOUNT = "amount"
OFFER_PERCENT = "percent"
REWARD_POINTS = "points"
REWARD_CATALOGUE = "reward"
CAP_MONTH = "month"
CAP_YEAR = "year"
CAP_EVER = "ever"

PENDING = "pending"
ORDERED = "ordered"
COMPLETED = "completed"
BLOCKED = "blocked"
CANCELLED = "cancelled"
STATUSES = (PENDING, ORDERED, COMPLETED, BLOCKED, CANCELLED)

# Block reasons (fraud checks and the cap) and cancel reasons, as the merchant reads them.
SIMILAR_EMAIL = "similar_email"
PLACED_BY_ADVOCATE = "placed_by_advocate"
NOT_FIRST_ORDER = "not_first_order"
DISPOSABLE_EMAIL = "disposable_email"
IP_VOLUME = "ip_volume"
CAP_REACHED = "cap_reached"
ORDER_CANCELLED = "order_cancelled"
ORDER_REFUNDED = "order_refunded"
BY_MERCHANT = "merchant"
# On an ordered referral: the merchant lifted a block before the pending period ended.
UNBLOCKED = "unblocked"
REASONS = {
    SIMILAR_EMAIL: "The friend's email is the advocate's, or very like it",
    PLACED_BY_ADVOCATE: "The order was placed by the advocate",
    NOT_FIRST_ORDER: "The friend was already a customer (not their first order)",
    DISPOSABLE_EMAIL: "The friend's email is from a disposable email service",
    IP_VOLUME: "Too many referrals from one IP address in a week",
    CAP_REACHED: "The advocate reached the cap of rewarded referrals for the period",
    ORDER_CANCELLED: "The order was cancelled",
    ORDER_REFUNDED: "The order was refunded",
    BY_MERCHANT: "Cancelled by the merchant",
    UNBLOCKED: "Unblocked by the merchant",
}

IP_WEEKLY_LIMIT = 10  # the 10th referral from one IP within IP_WINDOW is blocked
IP_WINDOW = timedelta(days=7)
IP_RETENTION = timedelta(days=30)  # hashed IPs are blanked after this
REFERRAL_CODE_LENGTH = 7
MAX_EDIT_DISTANCE = 2
MAX_POINTS = 1_000_000
MAX_VALID_DAYS = 365
# Providers that ignore dots in the local part (``j.ane`` is ``jane``).
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "disposable_email_domains.txt"


# --- codes -----------------------------------------------------------------------------------


def referral_code_new(choose: Callable[[str], str]) -> str:
    """A member's referral code: ``REFERRAL_CODE_LENGTH`` unambiguous characters."""
    return "".join(choose(CODE_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def friend_code_new(choose: Callable[[str], str]) -> str:
    """A friend's one-time discount code, ``FRIEND-XXXX-XXXX``."""
    return code_generate("FRIEND", choose)


def referral_code_clean(raw: str) -> str | None:
    """The code as typed or linked, upper-cased; None when it cannot be a referral code."""
    code = (raw or "").strip().upper()
    if len(code) != REFERRAL_CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


# --- emails ----------------------------------------------------------------------------------


def email_split(email: str) -> tuple[str, str]:
    local, _, domain = (email or "").strip().lower().rpartition("@")
    return local, domain


def email_key(email: str) -> str:
    """The address a mailbox receives at: lower case, without a ``+tag``, and without dots
    for providers that ignore them (``J.Ane+x@Gmail.com`` → ``jane@gmail.com``)."""
    local, domain = email_split(email)
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        domain = DOTLESS_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def edit_distance(a: str, b: str, limit: int = MAX_EDIT_DISTANCE) -> int:
    """Levenshtein distance, cut at ``limit + 1`` (all that a similarity check needs)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)


def emails_similar(a: str, b: str) -> bool:
    """The same mailbox (``email_key``), or addresses a typo or two apart
    (``jane.doe@x.com`` / ``janedoe1@x.com``), or the same local part of some length at
    another provider (``jane.doe@gmail.com`` / ``janedoe@yahoo.com``)."""
    if not a or not b:
        return False
    ka, kb = email_key(a), email_key(b)
    if ka == kb:
        return True
    la, lb = email_split(ka)[0], email_split(kb)[0]
    la, lb = la.replace(".", ""), lb.replace(".", "")
    if la == lb and len(la) >= 6:
        return True
    return edit_distance(ka, kb) <= MAX_EDIT_DISTANCE and min(len(la), len(lb)) >= 4


@cache
def disposable_domains() -> frozenset[str]:
    """The shipped list of disposable email domains (read once per process)."""
    lines = DATA_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(d.strip() for d in lines if d.strip() and not d.startswith("#"))


def email_disposable(email: str) -> bool:
    """The domain, or a domain it belongs to (``x.mailinator.com``), is a disposable one."""
    _, domain = email_split(email)
    parts = domain.split(".")
    listed = disposable_domains()
    return any(".".join(parts[i:]) in listed for i in range(len(parts) - 1))


def ip_hash(ip: str, secret: str) -> str:
    """HMAC-SHA256 of the IP with the app secret: counts per IP without keeping the IP."""
    return hmac.new(secret.encode(), ip.strip().encode(), hashlib.sha256).hexdigest()


# --- fraud checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """A fraud check that failed: its reason (``REASONS``) and what it saw."""

    reason: str
    detail: str = ""


def claim_verdict(
    *, friend_email: str, advocate_email: str, ip_referrals_this_week: int, known_customer: bool
) -> Verdict | None:
    """The checks a friend's claim can fail before any order: their email is the
    advocate's (or like it), disposable, or the IP's weekly count (this one included)
    reaches ``IP_WEEKLY_LIMIT``; or Beam already knows orders of that email."""
    if emails_similar(friend_email, advocate_email):
        return Verdict(SIMILAR_EMAIL, f"{friend_email} / {advocate_email}")
    if email_disposable(friend_email):
        return Verdict(DISPOSABLE_EMAIL, email_split(friend_email)[1])
    if ip_referrals_this_week >= IP_WEEKLY_LIMIT:
        return Verdict(IP_VOLUME, f"{ip_referrals_this_week} referrals this week")
    if known_customer:
        return Verdict(NOT_FIRST_ORDER, "orders with this email are known")
    return None


@dataclass(frozen=True)
class Party:
    """Who an order (or an advocate) is: customer id, email, name, shipping address keys."""

    customer_id: int | None
    email: str
    first_name: str = ""
    last_name: str = ""
    address_keys: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return " ".join(f"{self.first_name} {self.last_name}".lower().split())


def order_verdict(
    *,
    order: Party,
    advocate: Party,
    earlier_orders: int,
    first_order_only: bool,
    lifted: str = "",
) -> Verdict | None:
    """The checks an order paid with a friend's code can fail: placed by the advocate
    (same customer, email, full name or shipping address) or, when the offer is for a first
    order, not the friend's first order (``earlier_orders``: the payload's count or the
    orders Beam knows). ``lifted``: the claim check the merchant unblocked; its twin here
    (the email likeness, the earlier orders) is not applied again."""
    if order.customer_id is not None and order.customer_id == advocate.customer_id:
        return Verdict(PLACED_BY_ADVOCATE, "same customer")
    if order.email and lifted != SIMILAR_EMAIL and emails_similar(order.email, advocate.email):
        return Verdict(PLACED_BY_ADVOCATE, "same email")
    if order.name and " " in order.name and order.name == advocate.name:
        return Verdict(PLACED_BY_ADVOCATE, "same name")
    if order.address_keys & advocate.address_keys:
        return Verdict(PLACED_BY_ADVOCATE, "same shipping address")
    if first_order_only and earlier_orders > 0 and lifted != NOT_FIRST_ORDER:
        return Verdict(NOT_FIRST_ORDER, f"{earlier_orders} earlier order(s)")
    return None


def address_key(address: Any, secret: str) -> str:
    """A short keyed hash of a shipping address (street, zip, country; case and spacing
    ignored): compared, never shown; blank when the address has no street."""
    if not isinstance(address, dict):
        return ""
    street = " ".join(str(address.get("address1") or "").lower().split())
    if not street:
        return ""
    parts = [
        street,
        " ".join(str(address.get("address2") or "").lower().split()),
        str(address.get("zip") or "").replace(" ", "").lower(),
        str(address.get("country_code") or address.get("country") or "").lower(),
    ]
    digest = hmac.new(secret.encode(), "|".join(parts).encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def payload_earlier_orders(payload: dict[str, Any]) -> int:
    """Orders the customer had before this one, by the payload (``customer.orders_count``
    counts this order too); 0 when the payload does not say."""
    customer = payload.get("customer")
    count = customer.get("orders_count") if isinstance(customer, dict) else None
    return max(int(count) - 1, 0) if isinstance(count, int) else 0


# --- the cap ---------------------------------------------------------------------------------

CAP_LIMITS = {CAP_MONTH: MONTH, CAP_YEAR: YEAR, CAP_EVER: ONCE}


def cap_period(cap: str, day: date) -> str:
    """The cap's period containing ``day`` (a shop day): ``2026-05``, ``2026`` or ``""``."""
    return period_key(CAP_LIMITS[cap], day)


def cap_reached(*, cap_count: int, rewarded_in_period: int) -> bool:
    return cap_count > 0 and rewarded_in_period >= cap_count


# --- settings --------------------------------------------------------------------------------

SETTINGS_FIELDS = (
    "enabled",
    "offer_kind",
    "offer_value",
    "offer_minimum",
    "first_order_only",
    "code_valid_days",
    "reward_kind",
    "reward_points",
    "reward_id",
    "cap_count",
    "cap_period",
)


def settings_problem(data: dict[str, Any], *, reward_ids: Iterable[int]) -> tuple[str, str] | None:
    """(field, message) of the first setting a referral program cannot have; None: fine.
    ``reward_ids``: the shop's active catalogue rewards a referral may give."""
    unknown = set(data) - set(SETTINGS_FIELDS)
    if unknown:
        return sorted(unknown)[0], "Unknown setting."
    kind = data.get("offer_kind", OFFER_AMOUNT)
    if kind not in (OFFER_AMOUNT, OFFER_PERCENT):
        return "offer_kind", "Choose an amount or a percentage off."
    value = data.get("offer_value", Decimal(10))
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        return "offer_value", "Give the friend's discount, more than 0."
    if value != value.quantize(Decimal("0.01")) or value >= Decimal("1e10"):
        return "offer_value", "Give the discount with at most 2 decimals."
    if kind == OFFER_PERCENT and value > 100:
        return "offer_value", "A percentage is at most 100."
    minimum = data.get("offer_minimum")
    if minimum is not None and (
        not isinstance(minimum, Decimal) or not minimum.is_finite() or minimum <= 0
    ):
        return "offer_minimum", "Leave the minimum order empty or give an amount over 0."
    days = data.get("code_valid_days", 30)
    if not isinstance(days, int) or not 1 <= days <= MAX_VALID_DAYS:
        return "code_valid_days", f"Codes are valid from 1 to {MAX_VALID_DAYS} days."
    reward_kind = data.get("reward_kind", REWARD_POINTS)
    if reward_kind not in (REWARD_POINTS, REWARD_CATALOGUE):
        return "reward_kind", "Choose points or a reward."
    points = data.get("reward_points", 0)
    if not isinstance(points, int) or not 0 <= points <= MAX_POINTS:
        return "reward_points", f"Give a number of points from 0 to {MAX_POINTS}."
    if reward_kind == REWARD_POINTS and data.get("enabled") and points == 0:
        return "reward_points", "Give the advocate some points."
    reward_id = data.get("reward_id")
    if reward_kind == REWARD_CATALOGUE and reward_id not in set(reward_ids):
        return "reward_id", "Choose a reward of your catalogue."
    cap = data.get("cap_count", 0)
    if not isinstance(cap, int) or not 0 <= cap <= 10_000:
        return "cap_count", "Give a cap from 0 (none) to 10000."
    if data.get("cap_period", CAP_MONTH) not in CAP_LIMITS:
        return "cap_period", "Choose a month, a year or in total."
    return None


# --- shopper-facing ---------------------------------------------------------------------------


def offer_label(kind: str, value: Decimal, currency: str) -> str:
    """``10% off`` or ``10.00 USD off`` (the panel formats it further)."""
    if kind == OFFER_PERCENT:
        return f"{value.normalize():f}% off"
    return f"{value:.2f} {currency} off"


def share_links(*, url: str) -> dict[str, str]:
    """Share links by URL (no third-party scripts): the networks' web share intents. The
    email (``mailto:``) is written by the panel, in the shopper's language."""
    return {
        "facebook": share_intent_url("facebook", url),
        "x": share_intent_url("x", url),
    }
