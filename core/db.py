"""Set-based SQL helpers: multi-row inserts and updates in one statement.

Everything goes through Django's cursor (``connection.cursor()``), so query counts, logging
and any instrumentation that wraps it see these statements. Each field's value is converted
as ``save()`` converts it (``pre_save`` + ``get_db_prep_save``); the rows then travel as ONE
JSON parameter, unpacked by the server: a short statement whatever the row count (no
thousands of placeholders for the driver to parse and quote). The statements have the same
shape on PostgreSQL and SQLite (3.35+: ``ON CONFLICT``, ``RETURNING``, ``UPDATE … FROM``);
only the JSON row source is spelt per database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.options import Options

ROWS_PER_STATEMENT = 2000


def _json_value(value: Any) -> Any:
    """What a converted value is in the JSON parameter (the server casts it back)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if hasattr(value, "obj"):  # a driver's JSON adapter (PostgreSQL ``jsonb``): its object
        return value.obj
    raise TypeError(f"cannot send {type(value).__name__} in a JSON row")


def _rows_source(db: Any, fields: Sequence[models.Field], names: Sequence[str]) -> str:
    """``SELECT <column i of each row> AS name_i … FROM <the JSON rows parameter>``."""
    qn = db.ops.quote_name
    if db.vendor == "postgresql":
        columns = [
            f"(r->{i})::jsonb"
            if f.get_internal_type() == "JSONField"
            # ``->>`` gives the text form; the cast reads it as the column's type
            else f"(r->>{i})::{f.cast_db_type(db)}"
            for i, f in enumerate(fields)
        ]
        source = "json_array_elements(%s::json) AS r"
    elif db.vendor == "sqlite":
        columns = [f"json_extract(value, '$[{i}]')" for i in range(len(fields))]
        source = "json_each(%s)"
    else:
        raise NotImplementedError(f"no JSON rows on {db.vendor}")
    selected = ", ".join(f"{c} AS {qn(n)}" for c, n in zip(columns, names, strict=True))
    return f"SELECT {selected} FROM {source}"  # noqa: S608 (model meta only)


def _rows_json(db: Any, objs: Sequence[models.Model], fields: Sequence[models.Field]) -> str:
    decimal = [f.get_internal_type() == "DecimalField" for f in fields]
    rows = [
        [
            _db_value(f, f.pre_save(obj, obj.pk is None), db, is_decimal)
            for f, is_decimal in zip(fields, decimal, strict=True)
        ]
        for obj in objs
    ]
    return json.dumps(rows, default=_json_value, separators=(",", ":"))


def _db_value(field: models.Field, value: Any, db: Any, is_decimal: bool) -> Any:
    """``get_db_prep_save``, except that a finite ``Decimal`` of a decimal field is taken as
    it is: Django's conversion gives it back unchanged (the column's cast rounds it on the
    server), and it is most of the values a crediting batch writes."""
    if is_decimal and type(value) is Decimal and value.is_finite():
        return value
    return field.get_db_prep_save(value, db)


def _column(meta: Options[Any], name: str) -> str:
    """A concrete field's column (typing only: the stubs allow a relation, or None)."""
    return cast(str, cast(models.Field, meta.get_field(name)).column)


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + ROWS_PER_STATEMENT] for i in range(0, len(items), ROWS_PER_STATEMENT)]


def rows_insert(
    objs: Sequence[models.Model],
    *,
    conflict: Sequence[str],
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """``INSERT … SELECT … ON CONFLICT (conflict) DO NOTHING RETURNING returning`` for
    unsaved instances of one model; returns the rows actually inserted (a conflicting row
    is skipped, not an error)."""
    if not objs:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    meta = objs[0]._meta
    qn = db.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    names = [cast(str, f.column) for f in fields]  # the stubs allow None (before setup)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(n) for n in names)}) "
        f"{_rows_source(db, fields, names)} WHERE true "  # WHERE: SQLite's upsert grammar
        f"ON CONFLICT ({', '.join(qn(_column(meta, n)) for n in conflict)}) DO NOTHING "
        f"RETURNING {', '.join(qn(_column(meta, n)) for n in returning)}"
    )
    inserted: list[tuple[Any, ...]] = []
    with db.cursor() as cursor:
        for chunk in _chunks(objs):
            cursor.execute(sql, [_rows_json(db, chunk, fields)])
            inserted.extend(cursor.fetchall())
    return inserted


def rows_update(objs: Sequence[models.Model], *, fields: Sequence[str]) -> int:
    """``UPDATE … SET f = v.f … FROM (rows) AS v WHERE pk = v.pk``: write ``fields`` of saved
    instances of one model in one statement (``auto_now`` fields are refreshed as
    ``save(update_fields=…)`` would). Returns the rows updated."""
    if not objs:
        return 0
    db = connections[DEFAULT_DB_ALIAS]
    meta = objs[0]._meta
    qn = db.ops.quote_name
    pk = meta.pk
    assert pk is not None
    names = list(fields)
    names += [
        f.name
        for f in meta.concrete_fields
        if getattr(f, "auto_now", False) and f.name not in names
    ]
    targets = [pk, *(cast(models.Field, meta.get_field(n)) for n in names)]
    aliases = ["k", *(f"c{i}" for i in range(len(names)))]
    sets = ", ".join(f"{qn(cast(str, f.column))} = v.c{i}" for i, f in enumerate(targets[1:]))
    table = qn(meta.db_table)
    sql = (
        f"UPDATE {table} SET {sets} FROM ({_rows_source(db, targets, aliases)}) AS v "  # noqa: S608
        f"WHERE {table}.{qn(cast(str, pk.column))} = v.k"
    )
    updated = 0
    with db.cursor() as cursor:
        for chunk in _chunks(objs):
            cursor.execute(sql, [_rows_json(db, chunk, targets)])
            updated += cursor.rowcount
    return updated
