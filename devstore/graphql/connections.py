"""Connections: cursors, pages, sorting and the search syntax subset."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from graphql import GraphQLError


def cursor_encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def cursor_parse(cursor: str) -> list[Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise GraphQLError("Invalid cursor for current pagination sort.") from exc


def connection(nodes: list[dict], cursors: list[str], *, has_next: bool, has_previous: bool):
    return {
        "nodes": nodes,
        "edges": [{"node": n, "cursor": c} for n, c in zip(nodes, cursors, strict=True)],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def list_connection(nodes: list[dict], first: int | None = None, after: str | None = None):
    start = int(cursor_parse(after)[0]) + 1 if after else 0
    page = nodes[start:] if first is None else nodes[start : start + first]
    cursors = [cursor_encode([start + i]) for i in range(len(page))]
    return connection(
        page, cursors, has_next=start + len(page) < len(nodes), has_previous=start > 0
    )


SEARCH_TERM = re.compile(r"""(?P<field>\w+):(?P<op><=|>=|<|>)?(?P<value>'[^']*'|"[^"]*"|\S+)""")
_SORT_FIELDS = {
    "ID": "id",
    "UPDATED_AT": "updated_at",
    "CREATED_AT": "created_at",
    "PROCESSED_AT": "processed_at",
}
_OPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte", None: "exact"}


def search(qs: QuerySet, query: str | None, fields: dict[str, str]) -> QuerySet:
    """Apply the search syntax subset ``field:[op]value`` (AND-ed) to ``qs``."""
    for match in SEARCH_TERM.finditer(query or ""):
        name, op, raw = match.group("field"), match.group("op"), match.group("value")
        column = fields.get(name.lower())
        if column is None:
            continue
        value: Any = raw.strip("'\"")
        if column.endswith("_at"):
            parsed = parse_datetime(value)
            if parsed is None:
                continue
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed, UTC)
            value = parsed
        elif column in {"id", "customer_id"}:
            if not value.isdigit():
                continue
            value = int(value)
        elif column == "tags":
            qs = qs.filter(tags__contains=value) if op is None else qs
            continue
        elif column.startswith("email"):
            qs = qs.filter(email__iexact=value)
            continue
        qs = qs.filter(**{f"{column}__{_OPS[op]}": value})
    return qs


def paginate(
    qs: QuerySet,
    node: Callable[[Any], dict],
    *,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
    sort_key: str | None,
    reverse: bool | None,
) -> dict:
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    if (first or last or 0) > 250:
        raise GraphQLError("The maximum number of items per page is 250.")
    column = _SORT_FIELDS.get(sort_key or "ID", "id")
    descending = bool(reverse)

    def key_of(obj) -> list[Any]:
        value = getattr(obj, column)
        return [value.isoformat() if isinstance(value, datetime) else value, obj.id]

    def after_filter(values: list[Any], forward: bool) -> Q:
        raw, pk = values
        value = parse_datetime(raw) if column != "id" else raw
        op = "gt" if forward != descending else "lt"
        if column == "id":
            return Q(**{f"id__{op}": pk})
        return Q(**{f"{column}__{op}": value}) | Q(**{column: value, f"id__{op}": pk})

    order = [f"-{column}", "-id"] if descending else [column, "id"]
    if column == "id":
        order = order[-1:]
    qs = qs.order_by(*order)
    if after:
        qs = qs.filter(after_filter(cursor_parse(after), True))
    if before:
        qs = qs.filter(after_filter(cursor_parse(before), False))
    if last is not None and first is None:
        rows = list(qs.reverse()[: last + 1])
        has_more = len(rows) > last
        rows = list(reversed(rows[:last]))
        return connection(
            [node(r) for r in rows],
            [cursor_encode(key_of(r)) for r in rows],
            has_next=bool(before),
            has_previous=has_more,
        )
    assert first is not None  # one of first and last is given (checked above)
    rows = list(qs[: first + 1])
    has_more = len(rows) > first
    rows = rows[:first]
    return connection(
        [node(r) for r in rows],
        [cursor_encode(key_of(r)) for r in rows],
        has_next=has_more,
        has_previous=bool(after),
    )
