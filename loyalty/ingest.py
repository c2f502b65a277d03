"""Batch crediting of order and refund deliveries: the set-based twin of
``order_webhook_process`` and ``refund_webhook_process``.

A drain claims hundreds of deliveries at once. For the common cases — an ``orders/paid``
that is the earning trigger of an order Beam has never seen (or holds open, with no member,
because a refund came first), for a customer, with the program enabled; a
``refunds/create`` of an order that is credited, open, or credited or created by another
delivery of the same batch — this module does the work of many per-delivery transactions
in one: a multi-row ``INSERT … ON CONFLICT DO NOTHING`` of the orders, one of the new
members, the members locked in pk order, bulk inserts of the refunds and the ledger entries
and ``UPDATE … FROM unnest(…)`` of the cached balances and the changed orders — all in one
transaction, so balances still change only with their entries.

It must produce exactly the rows the per-delivery path produces (same order snapshot, same
idempotency keys, same reversals and shortfalls, same balances). Two rules make that hold:

* **Independence.** A delivery is batched only if no delivery of the claimed set that goes
  the per-delivery way touches the same order, customer (a refund touches the customer of
  its order's member), email or discount code. Batched deliveries sharing an order are
  refunds with distinct ids and at most one trigger. All batched deliveries are replayed
  in delivery (pk) order, as the per-delivery path would run them. Everything else — a
  refund id seen before, refunds of orders in other states, cancellations, guests, a
  program that is off or credits on fulfilment, an order Beam already holds in another
  state, a new member with held guest orders, shops with lifecycle or compliance
  deliveries in the set — is left to the services, which the caller runs after this
  transaction commits.
* **Shared code.** The snapshot, the earning computation (with product tags and bonus events
  read once per batch), the refund base, the reversal plan (``order_reversal_plan``: the
  rounding, the pending bucket first, the shortfall policy), the profile update rule and the
  attribution are the services' own functions.

Lock order (``loyalty.lock_objects``): orders first (the held orders the batch changes, in
pk order, then the inserted rows, in (shop, order id) order), then members in pk order.
PostgreSQL only: elsewhere (SQLite serialises writers anyway) the caller keeps the
per-delivery path.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, models, transaction
from django.utils import timezone

from loyalty import services
from loyalty.lock_objects import member_rows_select_for_update, order_qs_select_for_update
from loyalty.member_versions import members_changed_on_commit
from loyalty.models import (
    BonusEvent,
    LedgerEntry,
    LoyaltyOrder,
    LoyaltyProgram,
    Member,
    OrderRefund,
)
from loyalty.payloads import int_or_none
from merchants.models import Shop

logger = logging.getLogger(__name__)

# Below this many batchable deliveries the per-delivery path is as fast and is the reference.
BATCH_MIN = 16
ORDER_TOPICS = frozenset({"orders/paid", "orders/fulfilled", "orders/cancelled"})
ANY_ORDER_TOPICS = ORDER_TOPICS | {"orders/create", "orders/updated"}
REFUND_TOPIC = "refunds/create"
CUSTOMER_TOPICS = frozenset(
    {"customers/create", "customers/update", "customers/delete", "customers/merge"}
)
CREDITED = LoyaltyOrder.State.CREDITED
OPEN = LoyaltyOrder.State.OPEN
# What a refund arriving first finds on the order row it creates (``get_or_create``).
_FRESH_TAXES_INCLUDED = LoyaltyOrder._meta.get_field("taxes_included").get_default()
_ORDER_TABLE = LoyaltyOrder._meta.db_table
_MEMBER_TABLE = Member._meta.db_table


@dataclass(frozen=True)
class OrderDelivery:
    """One claimed delivery as the batch sees it; ``key`` orders them (the delivery pk)."""

    key: int
    shop: Shop
    topic: str
    payload: dict[str, Any]
    triggered_at: datetime | None


@dataclass
class _Candidate:
    delivery: OrderDelivery
    order_id: int
    customer_id: int | None  # a refund's: its order's member's, once known
    customer: dict[str, Any]
    keys: set[tuple[Any, ...]]
    refund_id: int | None = None  # set for a refunds/create
    order: LoyaltyOrder | None = None  # the order row a trigger inserts
    earned: int = 0
    refund_base: Decimal = Decimal(0)
    refund_bases: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))  # tax excluded, included
    before_trigger: bool = False  # a refund arriving before its order's trigger


class _MemberRow:
    """The locked member's columns the batch reads and writes (no model instance)."""

    FIELDS = (
        "id",
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "redacted",
        "balance",
        "pending_points",
        "lifetime_earned",
        "negative_balance_allowed",
        "last_activity_at",
    )
    __slots__ = (
        "balance",
        "customer_id",
        "email",
        "first_name",
        "last_activity_at",
        "last_name",
        "lifetime_earned",
        "negative_balance_allowed",
        "pending_points",
        "pk",
        "redacted",
    )
    pk: int
    customer_id: int
    email: str
    first_name: str
    last_name: str
    redacted: bool
    balance: int
    pending_points: int
    lifetime_earned: int
    negative_balance_allowed: bool
    last_activity_at: datetime | None

    def __init__(self, row: Sequence[Any]) -> None:
        for name, value in zip(self.FIELDS, row, strict=True):
            setattr(self, "pk" if name == "id" else name, value)


@dataclass
class _MemberState:
    member: _MemberRow | None = None  # locked row (None until loaded)
    created: bool = False
    changed: bool = False


@dataclass(frozen=True)
class _Held:
    """An order Beam holds that refunds of the batch change (a credited one: they reverse
    its member's points; an open one: they only add to its refunded base), as read before
    the transaction."""

    pk: int
    state: str
    member_id: int | None
    taxes_included: bool

    @property
    def credited(self) -> bool:
        return self.state == CREDITED and self.member_id is not None


@dataclass
class _Known:
    """What the database holds for the batch (read before the transaction)."""

    members: dict[tuple[int, int], int] = field(default_factory=dict)  # (shop, customer) → pk
    # (shop, order id) → the credited orders refunds reverse
    held: dict[tuple[int, int], _Held] = field(default_factory=dict)
    # (shop, order id) → the open orders (no member yet: refunds came first) a trigger
    # credits, and their columns as read
    opened: dict[tuple[int, int], LoyaltyOrder] = field(default_factory=dict)
    opened_values: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)


def _order_values(order: LoyaltyOrder) -> dict[str, Any]:
    return {f.attname: f.value_from_object(order) for f in LoyaltyOrder._meta.concrete_fields}


def batch_supported() -> bool:
    """The batch path needs PostgreSQL (ON CONFLICT … RETURNING, unnest, row locks)."""
    return connection.vendor == "postgresql"


def _clean_email(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _delivery_keys(delivery: OrderDelivery) -> set[tuple[Any, ...]] | None:
    """What a delivery may touch (order, customer, emails, discount codes), or ``None`` when
    it may touch anything of its shop (lifecycle, compliance, unknown topics, odd bodies).
    A refund's member is added once its order is looked up (``_known_rows``)."""
    payload, shop_id, topic = delivery.payload, delivery.shop.pk, delivery.topic
    if not isinstance(payload, dict):
        return None
    keys: set[tuple[Any, ...]] = set()
    if topic in ANY_ORDER_TOPICS:
        order_id = int_or_none(payload.get("id"))
        if order_id is None:
            return set()  # ignored by the services
        keys.add(("order", shop_id, order_id))
        customer = payload.get("customer")
        if customer is not None and not isinstance(customer, dict):
            return None
        customer = customer or {}
        customer_id = int_or_none(customer.get("id"))
        if customer_id is not None:
            keys.add(("customer", shop_id, customer_id))
        for value in (payload.get("email"), payload.get("contact_email"), customer.get("email")):
            if _clean_email(value):
                keys.add(("email", shop_id, _clean_email(value)))
        codes = payload.get("discount_codes") or []
        if not isinstance(codes, list):
            return None
        for code in services.order_discount_codes(payload):
            keys.add(("code", shop_id, code))
        return keys
    if topic == REFUND_TOPIC:
        order_id = int_or_none(payload.get("order_id"))
        if order_id is not None:
            keys.add(("order", shop_id, order_id))
        return keys
    if topic in CUSTOMER_TOPICS:
        customer_id = int_or_none(payload.get("id"))
        if customer_id is not None:
            keys.add(("customer", shop_id, customer_id))
        if _clean_email(payload.get("email")):
            keys.add(("email", shop_id, _clean_email(payload.get("email"))))
        return keys
    return None


def _candidate(
    delivery: OrderDelivery, program: LoyaltyProgram | None, keys: set[tuple[Any, ...]]
) -> _Candidate | None:
    """The delivery as a batch candidate, or ``None`` when it needs the per-delivery path."""
    payload = delivery.payload
    if program is None or not program.enabled or not delivery.shop.is_active:
        return None
    if delivery.topic == REFUND_TOPIC:
        return _refund_candidate(delivery, keys)
    if delivery.topic not in ORDER_TOPICS or delivery.topic == "orders/cancelled":
        return None
    if not services.order_is_trigger(program, delivery.topic, payload):
        return None
    order_id = int_or_none(payload.get("id"))
    customer = payload.get("customer")
    if order_id is None or not isinstance(customer, dict):
        return None
    customer_id = int_or_none(customer.get("id"))
    if customer_id is None:
        return None
    for name in ("line_items", "shipping_lines", "discount_codes"):
        if not isinstance(payload.get(name) or [], list):
            return None
    return _Candidate(delivery, order_id, customer_id, customer, keys)


def _refund_candidate(delivery: OrderDelivery, keys: set[tuple[Any, ...]]) -> _Candidate | None:
    payload = delivery.payload
    refund_id = int_or_none(payload.get("id"))
    order_id = int_or_none(payload.get("order_id"))
    if refund_id is None or order_id is None:
        return None
    for name in ("refund_line_items", "order_adjustments", "refund_shipping_lines"):
        if not isinstance(payload.get(name) or [], list):
            return None
    return _Candidate(delivery, order_id, None, {}, keys, refund_id=refund_id)


def _order_key(cand: _Candidate) -> tuple[Any, ...]:
    return ("order", cand.delivery.shop.pk, cand.order_id)


def _independent(
    candidates: list[_Candidate], blocked: set[tuple[Any, ...]]
) -> tuple[list[_Candidate], list[_Candidate]]:
    """Split candidates into those independent of ``blocked`` keys and the rest, to a
    fixpoint: a candidate left out blocks its order, customer and code keys too. Candidates
    sharing an order stay only as refunds with at most one trigger among them (refund ids
    distinct in the whole batch)."""
    blocked = set(blocked)
    groups: dict[tuple[Any, ...], list[_Candidate]] = defaultdict(list)
    refund_count: dict[tuple[int, int], int] = defaultdict(int)
    for cand in candidates:
        groups[_order_key(cand)].append(cand)
        if cand.refund_id is not None:
            refund_count[(cand.delivery.shop.pk, cand.refund_id)] += 1
    for key, group in groups.items():
        triggers = sum(1 for c in group if c.refund_id is None)
        if triggers > 1 or any(
            refund_count[(c.delivery.shop.pk, c.refund_id)] > 1
            for c in group
            if c.refund_id is not None
        ):
            blocked.add(key)
    kept = list(candidates)
    dropped: list[_Candidate] = []
    changed = True
    while changed:
        changed = False
        still: list[_Candidate] = []
        for cand in kept:
            if cand.keys & blocked:
                # What the per-delivery path will do with it touches its order, its member
                # and codes; its email only matters for guest orders, never batched.
                blocked |= {k for k in cand.keys if k[0] != "email"}
                dropped.append(cand)
                changed = True
            else:
                still.append(cand)
        kept = still
    return kept, dropped


_INSERT_SQL: dict[tuple[Any, ...], tuple[list[Any], str]] = {}


def _insert_sql(
    db: Any,
    model: type[models.Model],
    conflict: Sequence[str],
    returning: Sequence[str],
    many: bool,
) -> tuple[list[Any], str]:
    """The fields and the statement (built once per shape: the view runs it per request)."""
    cache_key = (db.alias, model, tuple(conflict), tuple(returning), many)
    cached = _INSERT_SQL.get(cache_key)
    if cached is not None:
        return cached
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    qn = db.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    if many:  # binary arrays (%b): the text format escapes each element with a regex in Python
        arrays = ", ".join(f"%b::{f.db_type(db)}[]" for f in fields)
        source = "SELECT * FROM unnest(" + arrays + ")"  # noqa: S608
    else:
        source = "VALUES (" + ", ".join(["%s"] * len(fields)) + ")"
    conflict_sql = ", ".join(qn(meta.get_field(name).column) for name in conflict)
    returning_sql = ", ".join(qn(meta.get_field(name).column) for name in returning)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) {source} "
        f"ON CONFLICT ({conflict_sql}) DO NOTHING RETURNING {returning_sql}"
    )
    _INSERT_SQL[cache_key] = (fields, sql)
    return fields, sql


# Field classes whose ``get_db_prep_save`` returns a value of these types unchanged on
# PostgreSQL (and whose ``pre_save`` is a plain read): such values skip the conversion.
# Exact types for numbers (a bool is an int), subclasses for strings (text choices).
_PASS_TYPES: dict[type[models.Field], tuple[type, bool]] = {
    models.IntegerField: (int, True),
    models.BigIntegerField: (int, True),
    models.PositiveIntegerField: (int, True),
    models.SmallIntegerField: (int, True),
    models.ForeignKey: (int, True),
    models.BooleanField: (bool, True),
    models.CharField: (str, False),
    models.TextField: (str, False),
    models.DecimalField: (Decimal, False),  # a Decimal goes as it is
}


def _column(f: models.Field, objs: Sequence[models.Model], db: Any) -> list[Any]:
    """``[f.get_db_prep_save(f.pre_save(obj, True), db) for obj in objs]``, short-cut where
    that is the identity (plain fields holding values of their own type, aware datetimes);
    ``auto_now`` fields get one timestamp for all the rows."""
    attname = f.attname
    if type(f) is models.DateTimeField and settings.USE_TZ:
        if f.auto_now or f.auto_now_add:
            now = timezone.now()
            for obj in objs:
                setattr(obj, attname, now)
            return [now] * len(objs)
        values = [getattr(obj, attname) for obj in objs]
        if all(v is None or (type(v) is datetime and v.tzinfo is not None) for v in values):
            return values
        return [f.get_db_prep_save(v, db) for v in values]
    if type(f) not in _PASS_TYPES:
        return [f.get_db_prep_save(f.pre_save(obj, True), db) for obj in objs]
    kind, exact = _PASS_TYPES[type(f)]
    values = [getattr(obj, attname) for obj in objs]
    if exact and all(v is None or type(v) is kind for v in values):
        return values
    if not exact and all(v is None or isinstance(v, kind) for v in values):
        return values
    return [
        v
        if v is None or (type(v) is kind if exact else isinstance(v, kind))
        else f.get_db_prep_save(v, db)
        for v in values
    ]


def rows_insert_returning(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
    raw: Mapping[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING returning`` for model
    instances (one row: ``VALUES``; many: ``SELECT FROM unnest(one array per column)``, one
    short statement whatever the row count), with each field's own conversion
    (``pre_save`` + ``get_db_prep_save``, skipped where it is the identity), so the stored
    values are those ``save()`` would store. ``raw`` (one row only): driver-ready values for
    some fields, used as they are (the webhook view passes the body's own JSON text for
    ``payload``). Returns the inserted rows only."""
    if not objs:
        return []
    db = connections[DEFAULT_DB_ALIAS]  # the thread's connection itself, not the proxy
    many = len(objs) > 1
    if many and raw:
        raise ValueError("raw values are for a single row")
    raw = raw or {}
    fields, sql = _insert_sql(db, model, conflict, returning, many)
    if many:
        values = [_column(f, objs, db) for f in fields]
        return _insert_many(db, model, fields, values, conflict, returning)
    values1: list[Any] = []
    for f in fields:
        if f.name in raw:
            values1.append(raw[f.name])
            continue
        value = f.pre_save(objs[0], True)
        if not (isinstance(value, Decimal) and isinstance(f, models.DecimalField)):
            value = f.get_db_prep_save(value, db)  # a Decimal goes as it is
        values1.append(value)
    with _cursor_bound(db) as cursor:  # one row (the webhook view)
        cursor.execute(sql, values1)
        return list(cursor.fetchall())


def _constant(values: list[Any]) -> bool:
    """Whether every value is the first (the same object, or an equal int, str or bool)."""
    first = values[0]
    kind = type(first)
    if first is None or kind in (int, str, bool):
        return all(v is first or (type(v) is kind and v == first) for v in values)
    return all(v is first for v in values)


def _insert_many(
    db: Any,
    model: type[models.Model],
    fields: list[Any],
    values: list[list[Any]],
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """The multi-row insert: a column holding one value for every row goes as one
    parameter, the others as arrays for ``unnest``."""
    meta = model._meta
    qn = db.ops.quote_name
    select: list[str] = []
    arrays: list[str] = []
    aliases: list[str] = []
    scalars: list[Any] = []
    varying: list[list[Any]] = []
    for n, (f, column) in enumerate(zip(fields, values, strict=True)):
        db_type = f.db_type(db)
        if len(column) > 1 and _constant(column) and (varying or n < len(fields) - 1):
            if column[0] is None:
                select.append(f"NULL::{db_type}")
            else:
                select.append(f"%b::{db_type}")
                scalars.append(column[0])
        else:
            select.append(f"v.c{n}")
            arrays.append(f"%b::{db_type}[]")
            aliases.append(f"c{n}")
            varying.append(column)
    conflict_sql = ", ".join(qn(meta.get_field(name).column) for name in conflict)
    returning_sql = ", ".join(qn(meta.get_field(name).column) for name in returning)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT {', '.join(select)} FROM unnest({', '.join(arrays)}) AS v({', '.join(aliases)}) "
        f"ON CONFLICT ({conflict_sql}) DO NOTHING RETURNING {returning_sql}"
    )
    return _execute_bound(db, sql, [*scalars, *varying], fetch=True)


def rows_insert_columns(
    model: type[models.Model],
    columns: Mapping[str, list[Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """``rows_insert_returning`` for rows given column by column (``attname`` → values of
    the field's own Python type: ints, strings, aware datetimes, Decimals), without a model
    instance per row. Fields not given take their default (converted once), ``auto_now``
    fields the current time."""
    n = len(next(iter(columns.values()), []))
    if not n:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    fields, _ = _insert_sql(db, model, conflict, returning, True)
    now = timezone.now()
    values: list[list[Any]] = []
    for f in fields:
        if f.attname in columns:
            values.append(list(columns[f.attname]))
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            values.append([now] * n)
        elif f.has_default() or not f.null:
            values.append([f.get_db_prep_save(f.get_default(), db)] * n)
        else:
            values.append([None] * n)
    return _insert_many(db, model, fields, values, conflict, returning)


def _cursor_bound(db: Any) -> Any:
    """Django's cursor wrapper (query logging, execute wrappers) around a server-binding
    psycopg cursor: no quoting of the parameters in Python (not prepared: Django turns
    psycopg's prepared statements off)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        return db._prepare_cursor(ServerBindingCursor(db.connection))


def _execute_bound(db: Any, sql: str, params: list[Any], *, fetch: bool) -> list[tuple[Any, ...]]:
    """Execute with server-side binding on the connection's own psycopg connection (same
    transaction): arrays then travel in binary, whereas Django's client-side binding would
    escape every element of every array in Python, which costs more than the insert."""
    db.ensure_connection()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        cursor.execute(sql, params)  # identifiers from model meta only
        return list(cursor.fetchall()) if fetch else []


def _rows_any(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """A read with array parameters (``= ANY(%s)``), bound server-side: one parameter for
    hundreds of ids, where ``__in`` compiles and quotes each of them in Python."""
    return _execute_bound(connections[DEFAULT_DB_ALIAS], sql, params, fetch=True)


def _update_from_arrays(
    table: str, key: str, columns: dict[str, tuple[str, list[Any]]], keys: list[int]
) -> None:
    """``UPDATE table SET col = v.col … FROM unnest(arrays) WHERE table.key = v.key``."""
    if not keys:
        return
    qn = connection.ops.quote_name
    names = list(columns)
    sets = ", ".join(f"{qn(name)} = v.{qn(name)}" for name in names)
    arrays = ", ".join(["%b::bigint[]"] + [f"%b::{columns[n][0]}[]" for n in names])
    alias = ", ".join([qn(key)] + [qn(n) for n in names])
    _execute_bound(
        connections[DEFAULT_DB_ALIAS],
        f"UPDATE {qn(table)} AS t SET {sets} FROM unnest({arrays}) AS v({alias}) "  # noqa: S608
        f"WHERE t.{qn(key)} = v.{qn(key)}",
        [keys, *(columns[n][1] for n in names)],
        fetch=False,
    )


class _Abort(Exception):
    """Roll the batch back and let every delivery take the per-delivery path."""


def deliveries_batch_credit(
    *,
    deliveries: Sequence[OrderDelivery],
    mark_done: Callable[[list[int]], int],
    min_batch: int = BATCH_MIN,
    savepoint: bool = False,
) -> set[int]:
    """Credit the batchable order deliveries and apply the batchable refunds of a claimed
    set in one transaction (``savepoint``: in a savepoint of the caller's transaction,
    which holds the claim).

    Returns the keys of the deliveries handled (``mark_done`` was called with them inside
    the transaction and must return how many it marked: fewer means a claim was lost, and
    the batch is rolled back); the caller processes the others one by one, after this returns, in
    key order. Any database error rolls the batch back and returns an empty set.
    """
    if not batch_supported() or not deliveries:
        return set()
    deliveries = sorted(deliveries, key=lambda d: d.key)
    shops = {d.shop.pk: d.shop for d in deliveries}
    programs = {
        p.shop_id: p
        for p in LoyaltyProgram.objects.filter(shop_id__in=shops, enabled=True).only(
            *(f.name for f in LoyaltyProgram._meta.concrete_fields if f.name != "branding")
        )
    }
    blocked: set[tuple[Any, ...]] = set()
    poisoned_shops: set[int] = set()
    candidates: list[_Candidate] = []
    left_refunds: list[OrderDelivery] = []
    for delivery in deliveries:
        keys = _delivery_keys(delivery)
        if keys is None:
            poisoned_shops.add(delivery.shop.pk)
            continue
        cand = _candidate(delivery, programs.get(delivery.shop.pk), keys)
        if cand is None:
            blocked |= keys
            if delivery.topic == REFUND_TOPIC:
                left_refunds.append(delivery)
        else:
            candidates.append(cand)
    candidates = [c for c in candidates if c.delivery.shop.pk not in poisoned_shops]
    kept, dropped = _independent(candidates, blocked)
    if len(kept) < min_batch:
        return set()

    left_refunds += [c.delivery for c in dropped if c.refund_id is not None]
    kept, known, blocked = _known_rows(kept, blocked, programs, left_refunds)
    kept = _orders_prepare(kept, blocked, programs, known)
    if len(kept) < min_batch:
        return set()
    try:
        with transaction.atomic() if savepoint else transaction.atomic(durable=True):
            done = _batch_apply(kept, known, programs)
            if mark_done(sorted(done)) != len(done):
                raise _Abort("a claim ran out")
    except _Abort as exc:
        logger.info(
            "batch credit of %d deliveries left to the per-delivery path: %s", len(kept), exc
        )
        return set()
    except DatabaseError:
        logger.exception("batch credit of %d deliveries rolled back", len(kept))
        return set()
    return done


def _orders_prepare(
    kept: list[_Candidate],
    blocked: set[tuple[Any, ...]],
    programs: dict[int, LoyaltyProgram],
    known: _Known,
) -> list[_Candidate]:
    """Build each order row as the per-delivery path leaves a freshly credited order (the
    snapshot and the earning computed by the services' code), and each refund's base. A
    payload the computation chokes on is left to the per-delivery path, which records the
    error and retries."""
    now = timezone.now()
    events, tags = _events_and_tags(kept)
    failed: set[tuple[Any, ...]] = set()
    trigger_taxes = {
        (c.delivery.shop.pk, c.order_id): bool(c.delivery.payload.get("taxes_included"))
        for c in kept
        if c.refund_id is None
    }
    for cand in sorted(kept, key=lambda c: c.delivery.key):
        delivery, shop_id = cand.delivery, cand.delivery.shop.pk
        program = programs[shop_id]
        if cand.refund_id is not None:
            held = known.held.get((shop_id, cand.order_id))
            try:
                if held is not None:
                    taxes_included = held.taxes_included
                elif (shop_id, cand.order_id) in trigger_taxes:  # its order's, as snapshot
                    taxes_included = trigger_taxes[(shop_id, cand.order_id)]
                elif cand.before_trigger:
                    taxes_included = _FRESH_TAXES_INCLUDED
                else:
                    raise LookupError("the refund's order was not prepared")
                cand.refund_bases = services.refund_bases_compute(
                    shop=delivery.shop,
                    program=program,
                    payload=delivery.payload,
                    tags=tags[shop_id],
                )
                cand.refund_base = cand.refund_bases[1 if taxes_included else 0]
            except Exception:  # the per-delivery path reports it
                failed |= {k for k in cand.keys if k[0] != "email"}
            continue
        when = delivery.triggered_at or now
        try:
            order = known.opened.get((shop_id, cand.order_id)) or LoyaltyOrder(
                shop_id=shop_id, order_id=cand.order_id
            )
            taxes_included = order.taxes_included
            services.order_snapshot(order, delivery.payload)
            if order.pk is not None and order.taxes_included != taxes_included:
                # Its refunds' bases are chosen again (``order_refunds_rebase``): per delivery.
                raise LookupError("the order's refunds need their bases chosen again")
            earning = services.order_earning_compute(
                shop=delivery.shop,
                program=program,
                payload=delivery.payload,
                placed_at=order.placed_at or when,
                tags=tags[shop_id],
                shop_events=events[shop_id],
            )
        except Exception:  # the per-delivery path reports it
            failed |= {k for k in cand.keys if k[0] != "email"}
            continue
        assert cand.customer_id is not None
        order.member_id = known.members.get((shop_id, cand.customer_id))
        order.customer_id = cand.customer_id
        pending = program.pending_days > 0
        release_at = when + timedelta(days=program.pending_days) if pending else None
        order.base = earning.base.quantize(services.CENT)
        order.multiplier = earning.multiplier
        order.points_due = earning.points
        order.triggered_at = when
        order.points_earned = earning.points
        order.points_pending = earning.points if pending else 0
        order.release_at = release_at if pending and earning.points else None
        order.state = CREDITED
        order.credited_at = now
        cand.order, cand.earned = order, earning.points
    if failed:
        kept, _ = _independent(kept, blocked | failed)
    return kept


def _known_rows(
    kept: list[_Candidate],
    blocked: set[tuple[Any, ...]],
    programs: dict[int, LoyaltyProgram],
    left_refunds: list[OrderDelivery],
) -> tuple[list[_Candidate], _Known, set[tuple[Any, ...]]]:
    """Read what the database holds for the batch and keep what it allows:

    * orders Beam already holds go the per-delivery way (a refund came first, a duplicate
      order), and so do first orders of new members whose email has held guest orders (the
      member's creation credits them);
    * a refund stays only for an order that is credited to a member (the refund then
      touches that member: its customer key) or that a trigger of the batch credits (a
      refund arriving before the trigger creates the order, which Beam must not hold yet),
      and only with a refund id never recorded;
    * a refund going the per-delivery way blocks its order's member.

    Returns the candidates kept, the known members and held orders, and the keys blocked."""
    by_shop: dict[int, list[_Candidate]] = defaultdict(list)
    for cand in kept:
        by_shop[cand.delivery.shop.pk].append(cand)
    left_by_shop: dict[int, list[int]] = defaultdict(list)
    for delivery in left_refunds:
        order_id = int_or_none(delivery.payload.get("order_id"))
        if order_id is not None:
            left_by_shop[delivery.shop.pk].append(order_id)
    extra: set[tuple[Any, ...]] = set()
    known = _Known()
    for shop_id, cands in by_shop.items():
        rows = {
            row[0]: row[1:]
            for row in _rows_any(
                "SELECT o.order_id, o.id, o.state, o.member_id, m.customer_id, o.taxes_included"  # noqa: S608
                f" FROM {_ORDER_TABLE} o LEFT JOIN {_MEMBER_TABLE} m ON m.id = o.member_id"
                " WHERE o.shop_id = %s AND o.order_id = ANY(%s)",
                [shop_id, sorted({c.order_id for c in cands} | set(left_by_shop[shop_id]))],
            )
        }
        refund_ids = {c.refund_id for c in cands if c.refund_id is not None}
        recorded = (
            set(
                OrderRefund.objects.filter(shop_id=shop_id, refund_id__in=refund_ids).values_list(
                    "refund_id", flat=True
                )
            )
            if refund_ids
            else set()
        )
        customers = {c.customer_id for c in cands if c.refund_id is None}
        for pk, customer_id in _rows_any(
            f"SELECT id, customer_id FROM {_MEMBER_TABLE} WHERE shop_id = %s"  # noqa: S608
            " AND customer_id = ANY(%s)",
            [shop_id, sorted(customers)],
        ):
            known.members[(shop_id, customer_id)] = pk
        triggers = {c.order_id: c for c in cands if c.refund_id is None}
        first_email: dict[int, str] = {}
        opened: dict[int, tuple[int, int]] = {}
        for cand in cands:
            order_key = _order_key(cand)
            row = rows.get(cand.order_id)
            if cand.refund_id is None:
                if row is not None and row[1] == OPEN and row[2] is None:
                    opened[row[0]] = (shop_id, cand.order_id)
                elif row is not None:
                    extra.add(order_key)
                assert cand.customer_id is not None
                if (shop_id, cand.customer_id) not in known.members:
                    first_email.setdefault(cand.customer_id, _new_member_email(cand))
                continue
            trigger = triggers.get(cand.order_id)
            if cand.refund_id in recorded:
                extra.add(order_key)
            elif trigger is not None:
                if row is None or (row[1] == OPEN and row[2] is None):
                    cand.customer_id = trigger.customer_id
                    cand.keys.add(("customer", shop_id, trigger.customer_id))
                    cand.before_trigger = cand.delivery.key < trigger.delivery.key
                else:
                    extra.add(order_key)
            elif row is None:  # the refund creates the order (it comes before the trigger)
                cand.before_trigger = True
            elif (row[1] == CREDITED and row[2] is not None) or row[1] == OPEN:
                pk, state, member_id, customer_id, taxes_included = row
                held = _Held(pk, state, member_id, taxes_included)
                known.held[(shop_id, cand.order_id)] = held
                if held.credited:
                    cand.customer_id = customer_id
                    cand.keys.add(("customer", shop_id, customer_id))
                    known.members[(shop_id, customer_id)] = member_id
            else:
                extra.add(order_key)
        for order_id in left_by_shop[shop_id]:
            row = rows.get(order_id)
            if row is not None and row[2] is not None:
                extra.add(("customer", shop_id, row[3]))
        for order in LoyaltyOrder.objects.filter(pk__in=opened) if opened else ():
            if order.state == OPEN and order.member_id is None:
                known.opened[opened[order.pk]] = order
                known.opened_values[opened[order.pk]] = _order_values(order)
            else:
                extra.add(("order", shop_id, order.order_id))
        emails = {e for e in first_email.values() if e}
        if not emails:
            continue
        since = timezone.now() - timedelta(days=programs[shop_id].guest_link_window_days)
        guest_emails = set(
            LoyaltyOrder.objects.filter(
                shop_id=shop_id,
                state=LoyaltyOrder.State.GUEST,
                member__isnull=True,
                email__in=emails,  # order emails are stored lower-cased (the snapshot)
                triggered_at__gte=since,
            ).values_list("email", flat=True)
        )
        for customer_id, email in first_email.items():
            if email in guest_emails:
                extra.add(("customer", shop_id, customer_id))
    blocked = blocked | extra
    kept, _ = _independent(kept, blocked)
    return kept, known, blocked


def _new_member_email(cand: _Candidate) -> str:
    """The email ``order_webhook_process`` gives a member it creates."""
    return _clean_email(cand.customer.get("email") or cand.delivery.payload.get("email"))


def _events_and_tags(
    cands: Iterable[_Candidate],
) -> tuple[dict[int, list[BonusEvent]], dict[int, dict[int, set[str]]]]:
    """The shops' bonus events and the tags of the products the orders and refunds name."""
    by_shop: dict[int, set[int]] = defaultdict(set)
    for cand in cands:
        shop_id = cand.delivery.shop.pk
        pids = by_shop[shop_id]
        payload = cand.delivery.payload
        if cand.refund_id is None:
            lines = payload.get("line_items") or []
        else:
            lines = [rli.get("line_item") for rli in payload.get("refund_line_items") or [] if rli]
        for line in lines:
            if isinstance(line, dict):
                pid = int_or_none(line.get("product_id"))
                if pid is not None:
                    pids.add(pid)
    events = {shop_id: list(BonusEvent.objects.filter(shop_id=shop_id)) for shop_id in by_shop}
    tags = {
        shop_id: services.product_tags_read(shop=Shop(pk=shop_id), product_ids=pids)
        for shop_id, pids in by_shop.items()
    }
    return events, tags


def _orders_lock(kept: list[_Candidate], known: _Known) -> dict[tuple[int, int], LoyaltyOrder]:
    """Lock the orders Beam holds that the batch changes (the credited orders the refunds
    reverse, the open orders a trigger credits), in pk order, and check they are as read.
    Returns them (an open order as prepared: snapshot applied)."""
    wanted = {
        (c.delivery.shop.pk, c.order_id)
        for c in kept
        if (c.delivery.shop.pk, c.order_id) in known.held
        or (c.delivery.shop.pk, c.order_id) in known.opened
    }
    if not wanted:
        return {}
    by_pk = {
        (known.held[ident].pk if ident in known.held else known.opened[ident].pk): ident
        for ident in wanted
    }
    orders: dict[tuple[int, int], LoyaltyOrder] = {}
    for order in order_qs_select_for_update().filter(pk__in=by_pk):
        ident = by_pk[order.pk]
        read = known.held.get(ident)
        if read is not None:
            if (
                order.state != read.state
                or order.member_id != read.member_id
                or order.taxes_included != read.taxes_included
            ):
                raise _Abort("an order changed since it was read")
            orders[ident] = order
        else:
            if _order_values(order) != known.opened_values[ident]:
                raise _Abort("an order changed since it was read")
            orders[ident] = known.opened[ident]
    if len(orders) != len(wanted):
        raise _Abort("an order disappeared")
    return orders


class _Rows:
    """Rows to insert, column by column."""

    def __init__(self, *names: str) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in names}

    def add(self, *values: Any) -> None:
        for column, value in zip(self.columns.values(), values, strict=True):
            column.append(value)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))


def _batch_apply(
    kept: list[_Candidate], known: _Known, programs: dict[int, LoyaltyProgram]
) -> set[int]:
    """The transaction's body; returns the keys of the deliveries it handled."""
    now = timezone.now()
    # 1. The orders (lock order: orders first): the held ones, in pk order, then the
    # inserted ones, in (shop, order id) order.
    orders = _orders_lock(kept, known)
    triggers = [c for c in kept if c.refund_id is None]
    fresh: dict[tuple[int, int], LoyaltyOrder] = {}
    for cand in triggers:
        ident = (cand.delivery.shop.pk, cand.order_id)
        if ident not in orders and cand.order is not None:
            fresh[ident] = cand.order
    for cand in kept:  # a refund coming first creates the order as get_or_create would
        ident = (cand.delivery.shop.pk, cand.order_id)
        if ident not in orders and ident not in fresh:
            fresh[ident] = LoyaltyOrder(shop_id=ident[0], order_id=ident[1])
    idents = sorted(fresh)
    inserted = {
        (shop_id, order_id): pk
        for pk, shop_id, order_id in rows_insert_returning(
            LoyaltyOrder,
            [fresh[ident] for ident in idents],
            conflict=("shop", "order_id"),
            returning=("id", "shop", "order_id"),
        )
    }
    if len(inserted) != len(fresh):
        # Another worker created one of these orders since the check: start over per delivery.
        raise _Abort("an order was created concurrently")
    for ident in idents:
        fresh[ident].pk = inserted[ident]
        orders[ident] = fresh[ident]
    kept.sort(key=lambda c: c.delivery.key)

    # 2. The members: create the new ones (first delivery's profile), then lock all in pk order.
    states = _members_lock(kept, known.members)
    by_shop: dict[int, list[int]] = defaultdict(list)
    for shop_id, customer_id in states:
        by_shop[shop_id].append(customer_id)
    for shop_id, customer_ids in by_shop.items():  # their storefront views, after commit
        members_changed_on_commit(shop_id=shop_id, customer_ids=customer_ids)

    # 3. Replay each delivery's effects in delivery order.
    entries = _Rows(
        "shop_id",
        "member_id",
        "amount",
        "kind",
        "bucket",
        "release_at",
        "source_type",
        "source_id",
        "idempotency_key",
        "note",
    )
    refunds = _Rows(
        "shop_id", "order_id", "refund_id", "base", "base_tax_excluded", "base_tax_included"
    )
    changed_orders: dict[int, LoyaltyOrder] = {}
    seen: set[tuple[int, int]] = set()
    credited = {ident for ident, held in known.held.items() if held.credited and ident in orders}
    for cand in kept:
        shop_id = cand.delivery.shop.pk
        if cand.refund_id is not None:
            order = orders[(shop_id, cand.order_id)]
            refunds.add(
                shop_id, cand.order_id, cand.refund_id, cand.refund_base, *cand.refund_bases
            )
            order.refunded_base += cand.refund_base
            changed_orders[order.pk] = order
            if (shop_id, cand.order_id) in credited:
                assert cand.customer_id is not None
                state = states[(shop_id, cand.customer_id)]
                member = state.member
                assert member is not None
                _reversal_apply(
                    order,
                    member,
                    programs[shop_id],
                    entries,
                    key=f"refund:{cand.refund_id}",
                    source_id=cand.refund_id,
                )
                state.changed = True
            continue
        assert cand.customer_id is not None
        ident = (shop_id, cand.customer_id)
        state = states[ident]
        member = state.member
        assert member is not None
        order = cand.order
        assert order is not None
        if order.member_id is None:
            order.member_id = member.pk
            changed_orders[order.pk] = order
        first = ident not in seen
        seen.add(ident)
        # The creating delivery's profile is the insert's.
        if not (state.created and first) and services.member_profile_apply(
            member,
            email=_new_member_email(cand),
            first_name=cand.customer.get("first_name"),
            last_name=cand.customer.get("last_name"),
        ):
            state.changed = True
        if cand.earned > 0:
            pending = order.points_pending > 0
            entries.add(
                shop_id,
                member.pk,
                cand.earned,
                LedgerEntry.Kind.ORDER_EARN,
                LedgerEntry.Bucket.PENDING if pending else LedgerEntry.Bucket.AVAILABLE,
                order.release_at,
                "order",
                str(order.order_id),
                f"order:{order.order_id}:earn",
                order.name,
            )
            if pending:
                member.pending_points += cand.earned
            else:
                member.balance += cand.earned
            member.lifetime_earned += cand.earned
            member.last_activity_at = now
            state.changed = True
        credited.add((shop_id, cand.order_id))
        if order.refunded_base:  # refunds that came first (``_order_credit``)
            _reversal_apply(order, member, programs[shop_id], entries, key=None, source_id="")
    if len(refunds):
        recorded = rows_insert_columns(
            OrderRefund, refunds.columns, conflict=("shop", "refund_id"), returning=("id",)
        )
        if len(recorded) != len(refunds):
            raise _Abort("a refund was recorded concurrently")
    if len(entries):
        posted = rows_insert_columns(
            LedgerEntry, entries.columns, conflict=("shop", "idempotency_key"), returning=("id",)
        )
        if len(posted) != len(entries):  # a key already used: the per-delivery path decides
            raise _Abort("a ledger entry already exists")
    touched = [s.member for s in states.values() if s.member is not None and s.changed]
    touched.sort(key=lambda m: m.pk)
    _update_from_arrays(
        Member._meta.db_table,
        "id",
        {
            "balance": ("integer", [m.balance for m in touched]),
            "pending_points": ("integer", [m.pending_points for m in touched]),
            "lifetime_earned": ("integer", [m.lifetime_earned for m in touched]),
            "negative_balance_allowed": (
                "boolean",
                [m.negative_balance_allowed for m in touched],
            ),
            "last_activity_at": ("timestamptz", [m.last_activity_at for m in touched]),
            "email": ("text", [m.email for m in touched]),
            "first_name": ("text", [m.first_name for m in touched]),
            "last_name": ("text", [m.last_name for m in touched]),
            "updated_at": ("timestamptz", [now] * len(touched)),
        },
        [m.pk for m in touched],
    )
    for cand in triggers:  # an open order a trigger credited: its every column changed
        if (cand.delivery.shop.pk, cand.order_id) in known.opened and cand.order is not None:
            changed_orders.pop(cand.order.pk, None)
            cand.order.save()
    changed = sorted(changed_orders.values(), key=lambda o: o.pk)
    _update_from_arrays(
        LoyaltyOrder._meta.db_table,
        "id",
        {
            "member_id": ("bigint", [o.member_id for o in changed]),
            "refunded_base": ("numeric", [Decimal(o.refunded_base) for o in changed]),
            "points_pending": ("integer", [o.points_pending for o in changed]),
            "points_reversed": ("integer", [o.points_reversed for o in changed]),
            "points_shortfall": ("integer", [o.points_shortfall for o in changed]),
            "updated_at": ("timestamptz", [now] * len(changed)),
        },
        [o.pk for o in changed],
    )
    # 4. Attribution of redemption codes, in delivery order.
    for cand in triggers:
        if services.order_discount_codes(cand.delivery.payload):
            services.redemptions_attribute(
                shop=cand.delivery.shop, order_id=cand.order_id, payload=cand.delivery.payload
            )
    return {c.delivery.key for c in kept}


def _reversal_apply(
    order: LoyaltyOrder,
    member: _MemberRow,
    program: LoyaltyProgram,
    entries: _Rows,
    *,
    key: str | None,
    source_id: str | int,
) -> None:
    """What ``_order_reversal_sync`` does to a credited order and its member (both
    locked), with the ledger entries added to ``entries``."""
    plan = services.order_reversal_plan(
        order=order, balance=member.balance, program=program, key=key, source_id=source_id
    )
    if plan is None:
        return
    shop_id = order.shop_id
    if plan.from_pending:
        entries.add(
            shop_id,
            member.pk,
            -plan.from_pending,
            plan.kind,
            LedgerEntry.Bucket.PENDING,
            None,
            plan.source_type,
            plan.source_id,
            f"{plan.key}:pending",
            order.name,
        )
        member.pending_points -= plan.from_pending
        order.points_pending -= plan.from_pending
    if plan.take:
        entries.add(
            shop_id,
            member.pk,
            -plan.take,
            plan.kind,
            LedgerEntry.Bucket.AVAILABLE,
            None,
            plan.source_type,
            plan.source_id,
            plan.key,
            plan.note,
        )
        member.balance -= plan.take
        if member.balance < 0:  # only the allow_negative policy gets here
            member.negative_balance_allowed = True
    member.lifetime_earned -= plan.delta
    order.points_reversed += plan.delta
    order.points_shortfall += plan.shortfall


def _members_lock(
    kept: list[_Candidate], known: dict[tuple[int, int], int]
) -> dict[tuple[int, int], _MemberState]:
    """Insert the members not seen before (profile of their first delivery, as
    ``get_or_create`` would), then lock every member of the batch in pk order."""
    states: dict[tuple[int, int], _MemberState] = {}
    new: list[Member] = []
    for cand in kept:
        if cand.customer_id is None:
            continue  # a refund of an order without a member
        ident = (cand.delivery.shop.pk, cand.customer_id)
        if ident in states or (cand.refund_id is not None and ident not in known):
            continue  # a refund's member is a held order's or its trigger's
        states[ident] = _MemberState()
        if ident not in known:
            new.append(
                Member(
                    shop_id=ident[0],
                    customer_id=ident[1],
                    email=_new_member_email(cand),
                    first_name=cand.customer.get("first_name") or "",
                    last_name=cand.customer.get("last_name") or "",
                )
            )
    new.sort(key=lambda m: (m.shop_id, m.customer_id))
    pks = {ident: pk for ident, pk in known.items() if ident in states}
    created: set[int] = set()
    for pk, shop_id, customer_id in rows_insert_returning(
        Member, new, conflict=("shop", "customer_id"), returning=("id", "shop", "customer_id")
    ):
        pks[(shop_id, customer_id)] = pk
        created.add(pk)
    missing = [ident for ident in states if ident not in pks]
    if missing:  # created by another worker since the check
        q = models.Q()
        for shop_id, customer_id in missing:
            q |= models.Q(shop_id=shop_id, customer_id=customer_id)
        for pk, shop_id, customer_id in Member.objects.filter(q).values_list(
            "pk", "shop_id", "customer_id"
        ):
            pks[(shop_id, customer_id)] = pk
    idents = {pk: ident for ident, pk in pks.items()}
    for row in member_rows_select_for_update(pks=sorted(idents), columns=_MemberRow.FIELDS):
        member = _MemberRow(row)
        state = states[idents[member.pk]]
        state.member = member
        state.created = member.pk in created
    if any(s.member is None for s in states.values()):
        raise _Abort("a member disappeared")
    return states
