"""A tier granted to a list of customers (the admin's CSV upload): the file read into the
members it names, with the lines it cannot match and why, then one ``tier_grant`` for them.

The preview and the apply read the file with the same function (``tier_grant_list_read``),
so the apply grants exactly to the members the preview counted (as they are at apply time).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from loyalty.audit import AuditRecord
from loyalty.models import Member
from loyalty.services.adjustments import CUSTOMER_ID_MAX, EMAIL_MAX_LENGTH
from loyalty.services.tiers import GrantReport, tier_grant
from merchants.models import Shop

GRANT_LIST_MAX_ROWS = 20_000
HEADERS = ("customer_id", "email")


@dataclass(frozen=True)
class UnknownRow:
    line: int
    value: str
    reason: str


@dataclass
class GrantList:
    """What a file names: the customer ids of the members it matches (file order, once
    each), the lines it does not match with the reason, and its number of lines."""

    customer_ids: list[int] = field(default_factory=list)
    unknown: list[UnknownRow] = field(default_factory=list)
    rows: int = 0
    error: str = ""  # the file as a whole cannot be read


def _values(csv_text: str) -> tuple[list[tuple[int, str]], str]:
    """(line, the customer id or email it gives) per non-blank line, or why the file cannot
    be read. A first row naming a ``customer_id`` or ``email`` column is a header: those
    columns are read (the id first); otherwise each line's first cell is the value."""
    rows = list(csv.reader(csv_text.splitlines()))
    if not rows:
        return [], "The file is empty."
    header = [cell.strip().lower() for cell in rows[0]]
    columns = [header.index(name) for name in HEADERS if name in header]
    start = 1 if columns else 0
    columns = columns or [0]
    values = []
    for line, row in enumerate(rows[start:], start=start + 1):
        cells = [row[i].strip() for i in columns if i < len(row) and row[i].strip()]
        if not cells and not any(c.strip() for c in row):
            continue  # a blank line
        values.append((line, cells[0] if cells else ""))
    if len(values) > GRANT_LIST_MAX_ROWS:
        return [], f"The file has more than {GRANT_LIST_MAX_ROWS:,} customers; split it."
    if not values:
        return [], "The file names no customer."
    return values, ""


def tier_grant_list_read(*, shop: Shop, csv_text: str) -> GrantList:
    """The members a file of customer ids or emails names (2 queries). A line is unknown
    when it is neither, when no member of the shop has it, when more than one member has
    the email, or when it repeats a customer named on an earlier line."""
    values, error = _values(csv_text.replace("\x00", ""))
    result = GrantList(rows=len(values), error=error)
    ids: set[int] = set()
    emails: set[str] = set()
    parsed: list[tuple[int, str, int | str | None]] = []
    for line, value in values:
        if value.isascii() and value.isdigit() and 0 < int(value) <= CUSTOMER_ID_MAX:
            parsed.append((line, value, int(value)))
            ids.add(int(value))
        elif "@" in value and len(value) <= EMAIL_MAX_LENGTH:
            parsed.append((line, value, value.lower()))
            emails.add(value.lower())
        else:
            parsed.append((line, value, None))
    members = Member.objects.filter(shop=shop, redacted=False)
    known_ids = set(
        members.filter(customer_id__in=sorted(ids)).values_list("customer_id", flat=True)
    )
    by_email: dict[str, list[int]] = {}
    for email, customer_id in members.filter(email__in=sorted(emails)).values_list(
        "email", "customer_id"
    ):
        by_email.setdefault(email, []).append(customer_id)
    seen: dict[int, int] = {}
    for line, value, key in parsed:
        matched, reason = _match(key, known_ids, by_email)
        if matched is not None and matched in seen:
            reason = f"the same customer as line {seen[matched]}"
        if matched is None or reason:
            result.unknown.append(UnknownRow(line, value[:80], reason))
            continue
        seen[matched] = line
        result.customer_ids.append(matched)
    return result


def _match(
    key: int | str | None, known_ids: set[int], by_email: dict[str, list[int]]
) -> tuple[int | None, str]:
    if key is None:
        return None, "not a customer id or an email"
    if isinstance(key, int):
        return (key, "") if key in known_ids else (None, "no member has this customer id")
    found = by_email.get(key, [])
    if not found:
        return None, "no member has this email"
    if len(found) > 1:
        return None, "more than one member has this email; use the customer id"
    return found[0], ""


def tier_grant_list_apply(
    *,
    shop: Shop,
    csv_text: str,
    tier_id: int,
    days: int,
    actor: str,
    key: str,
    note: str = "",
) -> tuple[GrantList, GrantReport]:
    """Grant the tier to the members the file names (read again now), audited; the same
    ``key`` applied again grants nothing more (``tier_grant``'s idempotency)."""
    names = tier_grant_list_read(shop=shop, csv_text=csv_text)
    report = tier_grant(
        shop=shop,
        customer_ids=names.customer_ids,
        tier_id=tier_id,
        days=days,
        actor=actor,
        key=f"list:{key}",
        note=note,
        audit=AuditRecord(actor=actor),
    )
    return names, report
