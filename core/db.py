"""Set-based SQL helpers: multi-row inserts and updates in one statement.

Everything goes through Django's ``connection.cursor()``, so query counts, logging and any
instrumentation that wraps Django's cursor see these statements. The SQL is the same on
PostgreSQL and SQLite (3.35+: ``ON CONFLICT``, ``RETURNING``, ``UPDATE … FROM``); only
PostgreSQL gets explicit casts, because it types a ``VALUES`` list from its first row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# Rows per statement: keeps the parameters under SQLite's limit (32,766) and PostgreSQL's
# (65,535) for the widest table written in bulk.
ROWS_PER_STATEMENT = 500


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _placeholder(field: models.Field) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(%s AS {field.cast_db_type(connection)})"
    return "%s"


def _prep(field: models.Field, obj: models.Model, *, add: bool) -> Any:
    """The value ``save()`` would store (``pre_save`` sets ``auto_now`` fields on ``obj``)."""
    return field.get_db_prep_save(field.pre_save(obj, add), connection)


def rows_insert(
    objs: Sequence[models.Model],
    *,
    conflict: Sequence[str],
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """``INSERT … VALUES (…), (…) ON CONFLICT (conflict) DO NOTHING RETURNING returning`` for
    unsaved instances of one model; returns the rows actually inserted (a conflicting row
    is skipped, not an error). Each field is converted as ``save()`` converts it."""
    if not objs:
        return []
    meta = objs[0]._meta
    qn = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    row_sql = "(" + ", ".join(_placeholder(f) for f in fields) + ")"
    columns = ", ".join(qn(f.column) for f in fields)
    head = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES "  # noqa: S608 (model meta)
    tail = (
        f" ON CONFLICT ({', '.join(qn(meta.get_field(n).column) for n in conflict)}) DO NOTHING"
        f" RETURNING {', '.join(qn(meta.get_field(n).column) for n in returning)}"
    )
    inserted: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(objs, ROWS_PER_STATEMENT):
            params = [_prep(f, obj, add=True) for obj in chunk for f in fields]
            cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
            inserted.extend(cursor.fetchall())
    return inserted


def rows_update(objs: Sequence[models.Model], *, fields: Sequence[str]) -> int:
    """``WITH v(pk, …) AS (VALUES …) UPDATE … SET f = v.f … FROM v WHERE pk = v.pk``: write
    ``fields`` of saved instances of one model in one statement (``auto_now`` fields are
    refreshed as ``save(update_fields=…)`` would). Returns the rows updated."""
    if not objs:
        return 0
    meta = objs[0]._meta
    qn = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None
    names = list(fields)
    names += [
        f.name
        for f in meta.concrete_fields
        if getattr(f, "auto_now", False) and f.name not in names
    ]
    targets = [meta.get_field(n) for n in names]
    row_sql = "(" + ", ".join(_placeholder(f) for f in [pk, *targets]) + ")"
    aliases = ["k", *(f"c{i}" for i in range(len(targets)))]
    sets = ", ".join(f"{qn(f.column)} = v.c{i}" for i, f in enumerate(targets))
    updated = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(objs, ROWS_PER_STATEMENT):
            params: list[Any] = []
            for obj in chunk:
                params.append(pk.get_db_prep_save(obj.pk, connection))
                params.extend(_prep(f, obj, add=False) for f in targets)
            cursor.execute(
                f"WITH v({', '.join(aliases)}) AS (VALUES {', '.join([row_sql] * len(chunk))}) "  # noqa: S608
                f"UPDATE {qn(meta.db_table)} SET {sets} FROM v "
                f"WHERE {qn(meta.db_table)}.{qn(pk.column)} = v.k",
                params,
            )
            updated += cursor.rowcount
    return updated
