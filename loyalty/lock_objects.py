"""Named row locks. Lock in this order when several are needed: orders, then members;
rows of one model in pk order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from loyalty.models import LoyaltyOrder, Member, Redemption


def member_qs_select_for_update() -> QuerySet[Member]:
    """Members locked for a balance read-modify-write (must be inside a transaction)."""
    return Member.objects.order_by("pk").select_for_update()


def member_rows_select_for_update(
    *, pks: Sequence[int], columns: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The named member lock for many rows at once (the batch drain): ``columns`` of the
    members ``pks``, locked in pk order, as tuples; one array parameter instead of a
    ``pk IN (…)`` list (must be inside a transaction; PostgreSQL only)."""
    import psycopg

    if not pks:
        return []
    qn = connection.ops.quote_name
    sql = (
        f"SELECT {', '.join(qn(c) for c in columns)} FROM {qn(Member._meta.db_table)}"  # noqa: S608
        " WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
    )
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [list(pks)])
        return list(cursor.fetchall())


def order_qs_select_for_update() -> QuerySet[LoyaltyOrder]:
    """Orders locked while their points are credited or reversed."""
    return LoyaltyOrder.objects.order_by("pk").select_for_update()


def redemption_qs_select_for_update() -> QuerySet[Redemption]:
    """Redemptions locked for a status transition."""
    return Redemption.objects.order_by("pk").select_for_update()
