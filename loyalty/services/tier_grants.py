"""Tiers given by the merchant: a tier granted for N days (to customers, or to a list from the
admin's CSV upload: the file read into the members it names, with the lines it cannot match
and why, then one ``tier_grant`` for them) and a tier set by hand.

The preview and the apply read the file with the same function (``tier_grant_list_read``),
so the apply grants exactly to the members the preview counted (as they are at apply time).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from loyalty.audit import AuditRecord, audit_record
from loyalty.errors import InvalidTiers
from loyalty.models import Member, TierChange
from loyalty.rules.tiers import MemberTier, TierDef, held_until, period_at
from loyalty.services.adjustments import CUSTOMER_ID_MAX, EMAIL_MAX_LENGTH
from loyalty.services.tiers import (
    BATCH,
    member_tier_set,
    member_tier_state,
    tier_change_new,
    tier_members_locked,
    tier_rules_load,
    tiers_write,
)
from merchants.models import Shop

Reason = TierChange.Reason

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


# --- grants and manual changes ----------------------------------------------------------------


@dataclass
class GrantReport:
    granted: int = 0
    unknown: list[int] = field(default_factory=list)  # customer ids without a member
    already: int = 0  # the same grant (key) was applied before


def tier_grant(
    *,
    shop: Shop,
    customer_ids: Sequence[int],
    tier_id: int,
    days: int,
    actor: str,
    key: str,
    note: str = "",
    audit: AuditRecord | None = None,
) -> GrantReport:
    """Grant a tier for ``days`` days to the members with these customer ids (one member,
    an admin list or a CSV), replacing a running grant. Idempotent per ``key``: members who
    already have this grant's history row are left as they are. At the end the member
    returns to the tier they earned (``tiers_evaluate_due``). With ``audit``, each batch
    that granted something writes one audit row in its own transaction (a repeated key
    audits nothing more)."""
    if not 1 <= days <= 3650:
        raise InvalidTiers("A grant lasts 1 to 3650 days.")
    if not key:
        raise InvalidTiers("A grant needs an idempotency key.")
    rules = tier_rules_load(shop=shop)
    if rules is None or rules.by_id(tier_id) is None:
        raise InvalidTiers("Choose one of the program's active tiers.")
    report = GrantReport()
    wanted = sorted(set(customer_ids))
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        with transaction.atomic(durable=True):
            now = timezone.now()
            members = tier_members_locked(shop, customer_id__in=chunk)
            found = {m.customer_id for m in members}
            report.unknown += [c for c in chunk if c not in found]
            keys = {m.pk: f"grant:{key}:{m.pk}" for m in members}
            done = set(
                TierChange.objects.filter(shop=shop, key__in=keys.values()).values_list(
                    "key", flat=True
                )
            )
            changed: list[Member] = []
            changes: list[TierChange] = []
            for member in members:
                if keys[member.pk] in done:
                    report.already += 1
                    continue
                ends = now + timedelta(days=days)
                state = member_tier_state(member)
                state = MemberTier(state.earned_id, state.expires_at, tier_id, ends)
                before, after = member_tier_set(member, rules, state, now)
                changed.append(member)
                changes.append(
                    tier_change_new(
                        member,
                        before=before,
                        after=after,
                        reason=Reason.GRANTED,
                        key=keys[member.pk],
                        at=now,
                        ends_at=ends,
                        actor=actor,
                        note=note,
                    )
                )
                report.granted += 1
            tiers_write(changed, changes, shop.pk)
            if audit is not None and changed:
                _grant_audit(shop, audit, rules.by_id(tier_id), days, changed, note)
    return report


def _grant_audit(
    shop: Shop,
    audit: AuditRecord,
    tier: TierDef | None,
    days: int,
    members: Sequence[Member],
    note: str,
) -> None:
    name = tier.name if tier else ""
    one = len(members) == 1
    audit_record(
        shop=shop,
        actor=audit.actor,
        action="tier.grant",
        target_type="member" if one else "members",
        target_id=members[0].pk if one else "",
        summary=(
            f"{name} for {days} day{'' if days == 1 else 's'} to "
            + (f"customer {members[0].customer_id}" if one else f"{len(members)} customers")
            + (f" ({note})" if note else "")
        ),
        changes={"granted_tier": [None, name], "grant_days": [None, days]},
    )


def tier_manual_set(
    *,
    shop: Shop,
    member_id: int,
    tier_id: int | None,
    actor: str,
    key: str,
    note: str = "",
    audit: AuditRecord | None = None,
) -> bool:
    """Set the tier a member earned by hand (the admin's override): held like an earned
    tier, until the end of the grace after the current period. Idempotent per ``key``
    (False when the key was used before: nothing changes, nothing more is audited). With
    ``audit``, the audit row is written in the change's transaction."""
    rules = tier_rules_load(shop=shop)
    if rules is None or (tier_id is not None and rules.by_id(tier_id) is None):
        raise InvalidTiers("Choose one of the program's active tiers.")
    with transaction.atomic(durable=True):
        now = timezone.now()
        members = tier_members_locked(shop, pk=member_id)
        if not members:
            raise InvalidTiers("No such member.")
        member = members[0]
        full_key = f"manual:{key}:{member.pk}"
        if TierChange.objects.filter(shop=shop, key=full_key).exists():
            return False
        state = member_tier_state(member)
        expires = held_until(rules, period_at(rules, now)) if tier_id is not None else None
        earned = rules.by_id(member.earned_tier_id)
        state = MemberTier(tier_id, expires, state.granted_id, state.grant_ends_at)
        member_tier_set(member, rules, state, now)
        change = tier_change_new(
            member,
            before=earned,
            after=rules.by_id(tier_id),
            reason=Reason.MANUAL,
            key=full_key,
            at=now,
            ends_at=expires,
            actor=actor,
            note=note,
        )
        tiers_write([member], [change], shop.pk)
        if audit is not None:
            after = change.to_name or "No tier"
            audit_record(
                shop=shop,
                actor=audit.actor,
                action="tier.set",
                target_type="member",
                target_id=member.pk,
                summary=f"{after} for customer {member.customer_id}"
                + (f": {note}" if note else ""),
                changes={"earned_tier": [change.from_name or None, change.to_name or None]},
            )
    return True
