"""Manual adjustments and balance imports (CSV), with their admin previews and audit."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import IO

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.audit import AuditRecord, audit_record
from loyalty.errors import (
    InsufficientPoints,
    InvalidAdjustment,
)
from loyalty.models import (
    LedgerEntry,
    Member,
)
from loyalty.payloads import int_or_none
from loyalty.services.ledger import Kind, ledger_post, member_lock
from loyalty.services.members import member_upsert
from loyalty.services.tiers import tier_new_member_grant
from merchants.models import Shop


def points_adjust(
    *,
    shop: Shop,
    member: Member,
    amount: int,
    reason: str,
    actor: str,
    idempotency_key: str,
    audit: AuditRecord | None = None,
) -> LedgerEntry:
    """A merchant's manual adjustment. A reason is required; a deduction cannot take the
    balance below zero; the same idempotency key returns the first entry (and, with
    ``audit``, audits nothing more: only the entry's creation is audited, in its
    transaction)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidAdjustment("A reason is required.", code="reason_required")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise InvalidAdjustment("The amount must be a non-zero whole number of points.")
    if not idempotency_key:
        raise InvalidAdjustment("An idempotency key is required.")
    key = f"manual:{idempotency_key}"
    with transaction.atomic(durable=True):
        locked = member_lock(shop_id=shop.pk, member_id=member.pk)
        existing = LedgerEntry.objects.filter(shop=shop, idempotency_key=key).first()
        if existing is not None:
            return existing
        if amount < 0 and locked.balance + amount < 0:
            raise InsufficientPoints(f"The balance is {locked.balance} points.")
        entry = ledger_post(
            member=locked,
            amount=amount,
            kind=Kind.MANUAL,
            key=key,
            source_type="manual",
            actor=actor,
            note=reason,
            earned=max(amount, 0),
            activity_at=timezone.now() if amount > 0 else None,
        )
        assert entry is not None
        if audit is not None:
            audit_record(
                shop=shop,
                actor=audit.actor,
                action="points.adjust",
                target_type="ledger_entry",
                target_id=entry.pk,
                summary=f"{entry.amount:+d} points for customer {locked.customer_id}: {reason}",
                changes={"balance": [locked.balance - entry.amount, locked.balance]},
            )
    member.refresh_from_db()
    return entry


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


IMPORT_COLUMNS = ("customer_id", "email", "first_name", "last_name", "points")


# What the columns hold: ``Member.customer_id`` is a bigint; the imported points stay well
# inside the integer balance; names and email fit their varchar columns.
CUSTOMER_ID_MAX = 2**63 - 1
IMPORT_POINTS_MAX = 1_000_000_000
NAME_MAX_LENGTH = 255
EMAIL_MAX_LENGTH = 254


@dataclass(frozen=True)
class ImportRow:
    customer_id: int
    email: str
    first_name: str
    last_name: str
    points: int


def import_row_parse(row: dict[str, str | None]) -> ImportRow | str:
    """A CSV row's values, or why it cannot be imported: the one check of the preview and
    the import, bounded to what the columns hold (NUL characters are dropped)."""
    text = {name: (row.get(name) or "").replace("\x00", "").strip() for name in IMPORT_COLUMNS}
    customer_id = int_or_none(text["customer_id"])
    points = int_or_none(text["points"])
    if customer_id is None or not 0 < customer_id <= CUSTOMER_ID_MAX:
        return f"customer_id must be a positive whole number, at most {CUSTOMER_ID_MAX}"
    if points is None or not 0 <= points <= IMPORT_POINTS_MAX:
        return f"points must be a whole number >= 0, at most {IMPORT_POINTS_MAX:,}"
    email = text["email"]
    if email and ("@" not in email or len(email) > EMAIL_MAX_LENGTH):
        return "email is not valid"
    if max(len(text["first_name"]), len(text["last_name"])) > NAME_MAX_LENGTH:
        return f"names are at most {NAME_MAX_LENGTH} characters"
    return ImportRow(
        customer_id=customer_id,
        email=email,
        first_name=text["first_name"],
        last_name=text["last_name"],
        points=points,
    )


def members_import_balances(
    *, shop: Shop, csv_file: IO[str], actor: str, audit: AuditRecord | None = None
) -> ImportReport:
    """Import balances from another program. Columns: customer_id, email, first_name,
    last_name, points. The points imported for a customer converge to the file's value, so
    importing the same file twice changes nothing; invalid rows are reported, not applied.

    Without ``audit`` each row commits on its own (a long command-line import holds no
    locks for long). With ``audit`` the whole run is one transaction (one savepoint per
    row, so an invalid row is still skipped alone) and its single audit row commits with
    it, written only when the run created or changed something."""
    report = ImportReport()
    reader = csv.DictReader(csv_file)
    missing = {"customer_id", "points"} - set(reader.fieldnames or [])
    if missing:
        report.errors.append((1, f"missing column(s): {', '.join(sorted(missing))}"))
        return report
    if audit is None:
        _members_import_rows(shop=shop, reader=reader, actor=actor, report=report, nested=False)
        return report
    with transaction.atomic(durable=True):
        _members_import_rows(shop=shop, reader=reader, actor=actor, report=report, nested=True)
        if report.created or report.changed:
            audit_record(
                shop=shop,
                actor=audit.actor,
                action="members.import",
                target_type="import",
                summary=(
                    f"{report.rows} row(s): {report.created} new, {report.changed} changed, "
                    f"{report.unchanged} unchanged, {len(report.errors)} error(s)"
                ),
                changes={"errors": [None, [f"line {n}: {msg}" for n, msg in report.errors[:50]]]},
            )
    return report


def _members_import_rows(
    *, shop: Shop, reader: csv.DictReader, actor: str, report: ImportReport, nested: bool
) -> None:
    for line_no, row in enumerate(reader, start=2):
        report.rows += 1
        parsed = import_row_parse(row)
        if isinstance(parsed, str):
            report.errors.append((line_no, parsed))
            continue
        try:
            outcome = _member_import_row(shop=shop, row=parsed, actor=actor, nested=nested)
        except InsufficientPoints as exc:
            report.errors.append((line_no, str(exc)))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)


def _member_import_row(*, shop: Shop, row: ImportRow, actor: str, nested: bool = False) -> str:
    # Nested: a savepoint inside the run's transaction, so a failing row undoes only itself.
    customer_id, points = row.customer_id, row.points
    with transaction.atomic(durable=not nested):
        member, created = member_upsert(
            shop=shop,
            customer_id=customer_id,
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
        )
        if created:  # like a member created by an order or customers/create
            tier_new_member_grant(shop=shop, member=member)
        locked = member_lock(shop_id=shop.pk, member_id=member.pk)
        imported = LedgerEntry.objects.filter(member=locked, kind=Kind.IMPORT).aggregate(
            total=Coalesce(Sum("amount"), 0), count=Count("pk")
        )
        delta = points - imported["total"]
        if delta == 0:
            return "created" if created else "unchanged"
        if locked.balance + delta < 0:
            raise InsufficientPoints(
                f"lowering the imported points by {-delta} would overdraw the balance"
            )
        ledger_post(
            member=locked,
            amount=delta,
            kind=Kind.IMPORT,
            key=f"import:{customer_id}:{imported['count'] + 1}",
            source_type="import",
            source_id=customer_id,
            actor=actor,
            note="Imported balance",
            earned=delta,
        )
    return "created" if created else "changed"


def member_points_adjust(
    *, shop: Shop, member: Member, amount: int, reason: str, actor: str, idempotency_key: str
) -> LedgerEntry:
    """``points_adjust`` from the admin, audited once per ledger entry in the entry's own
    transaction (a repeated submit with the same key neither moves points nor audits)."""
    return points_adjust(
        shop=shop,
        member=member,
        amount=amount,
        reason=reason,
        actor=actor,
        idempotency_key=idempotency_key,
        audit=AuditRecord(actor=actor),
    )


@dataclass
class ImportPreviewRow:
    line: int
    customer_id: str
    email: str
    points: str
    outcome: str  # new | change | unchanged | error
    delta: int = 0
    error: str = ""


def members_import_preview(*, shop: Shop, csv_text: str) -> list[ImportPreviewRow]:
    """What ``members_import_balances`` would do with this file, row by row, without
    writing: the same validation, and each valid row's change of imported points."""
    reader = csv.DictReader(csv_text.splitlines())
    missing = {"customer_id", "points"} - set(reader.fieldnames or [])
    if missing:
        return [
            ImportPreviewRow(
                line=1,
                customer_id="",
                email="",
                points="",
                outcome="error",
                error=f"missing column(s): {', '.join(sorted(missing))}",
            )
        ]
    raw = [(line_no, row, import_row_parse(row)) for line_no, row in enumerate(reader, start=2)]
    ids = {parsed.customer_id for _, _, parsed in raw if isinstance(parsed, ImportRow)}
    members = {
        m.customer_id: m for m in Member.objects.filter(shop=shop, customer_id__in=ids).only("pk")
    }
    imported: dict[int, int] = dict(
        LedgerEntry.objects.filter(shop=shop, member__customer_id__in=ids, kind=Kind.IMPORT)
        .values_list("member__customer_id")
        .annotate(total=Sum("amount"))
    )
    balances = dict(
        Member.objects.filter(shop=shop, customer_id__in=ids).values_list("customer_id", "balance")
    )
    rows: list[ImportPreviewRow] = []
    seen: dict[int, int] = {}
    for line_no, row, parsed in raw:
        out = ImportPreviewRow(
            line=line_no,
            customer_id=(row.get("customer_id") or "").strip(),
            email=(row.get("email") or "").strip(),
            points=(row.get("points") or "").strip(),
            outcome="error",
        )
        rows.append(out)
        if isinstance(parsed, str):
            out.error = parsed
            continue
        customer_id = parsed.customer_id
        previous = seen.get(customer_id, imported.get(customer_id, 0))
        delta = parsed.points - previous
        if balances.get(customer_id, 0) + delta < 0:
            out.error = f"lowering the imported points by {-delta} would overdraw the balance"
            continue
        first_sight = customer_id not in seen
        seen[customer_id] = parsed.points
        out.delta = delta
        if customer_id not in members and first_sight:
            out.outcome = "new"
        else:
            out.outcome = "change" if delta else "unchanged"
    return rows


def members_import_audited(*, shop: Shop, csv_text: str, actor: str) -> ImportReport:
    """``members_import_balances`` from the admin: one transaction and one audit row for the
    run (none when nothing changed)."""
    import io

    return members_import_balances(
        shop=shop, csv_file=io.StringIO(csv_text), actor=actor, audit=AuditRecord(actor=actor)
    )
