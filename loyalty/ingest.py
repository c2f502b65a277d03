"""Batch crediting of order deliveries: the set-based twin of ``order_webhook_process``.

A drain claims hundreds of deliveries at once. For the common case (an ``orders/paid``
that is the earning trigger of an order Beam has never seen, for a customer, with the
program enabled) this module does the work of many per-delivery transactions in one:
a multi-row ``INSERT … ON CONFLICT DO NOTHING`` of the orders, one of the new members, the
members locked in pk order, a bulk insert of the ledger entries and one ``UPDATE … FROM
unnest(…)`` of the cached balances — all in one transaction, so balances still change only
with their entries.

It must produce exactly the rows the per-delivery path produces (same order snapshot, same
idempotency keys, same balances). Two rules make that hold:

* **Independence.** A delivery is batched only if no other delivery of the claimed set that
  goes the per-delivery way touches the same order, customer, email or discount code (and
  no two batched deliveries share an order). Batched deliveries of one customer are applied
  in delivery (pk) order, as the per-delivery path would. Everything else — refunds,
  cancellations, guests, a program that is off or credits on fulfilment, an order Beam
  already holds, a new member with held guest orders, shops with lifecycle or compliance
  deliveries in the set — is left to ``order_webhook_process``, which the caller runs after
  this transaction commits.
* **Shared code.** The snapshot, the earning computation (with product tags and bonus events
  read once per batch), the profile update rule and the attribution are the services'
  own functions.

Lock order (``loyalty.lock_objects``): orders first (inserted rows, in (shop, order id)
order), then members in pk order. PostgreSQL only: elsewhere (SQLite serialises writers
anyway) the caller keeps the per-delivery path.
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
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, models, transaction
from django.utils import timezone

from loyalty import services
from loyalty.lock_objects import member_qs_select_for_update
from loyalty.member_versions import members_changed_on_commit
from loyalty.models import BonusEvent, LedgerEntry, LoyaltyOrder, LoyaltyProgram, Member
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
    customer_id: int
    customer: dict[str, Any]
    keys: set[tuple[Any, ...]]
    order: LoyaltyOrder | None = None
    earned: int = 0


@dataclass
class _MemberState:
    member: Member | None = None  # locked row (None until loaded)
    created: bool = False
    balance: int = 0
    pending: int = 0
    earned: int = 0
    activity_at: datetime | None = None
    profile_changed: set[str] = field(default_factory=set)


def batch_supported() -> bool:
    """The batch path needs PostgreSQL (ON CONFLICT … RETURNING, unnest, row locks)."""
    return connection.vendor == "postgresql"


def _clean_email(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _delivery_keys(delivery: OrderDelivery) -> set[tuple[Any, ...]] | None:
    """What a delivery may touch (order, customer, emails, discount codes), or ``None`` when
    it may touch anything of its shop (lifecycle, compliance, unknown topics, odd bodies)."""
    payload, shop_id, topic = delivery.payload, delivery.shop.pk, delivery.topic
    if not isinstance(payload, dict):
        return None
    keys: set[tuple[Any, ...]] = set()
    if topic in ANY_ORDER_TOPICS:
        order_id = services._int_or_none(payload.get("id"))
        if order_id is None:
            return set()  # ignored by the services
        keys.add(("order", shop_id, order_id))
        customer = payload.get("customer")
        if customer is not None and not isinstance(customer, dict):
            return None
        customer = customer or {}
        customer_id = services._int_or_none(customer.get("id"))
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
        order_id = services._int_or_none(payload.get("order_id"))
        if order_id is not None:
            keys.add(("order", shop_id, order_id))
        return keys
    if topic in CUSTOMER_TOPICS:
        customer_id = services._int_or_none(payload.get("id"))
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
    if program is None or not program.enabled or delivery.topic not in ORDER_TOPICS:
        return None
    if delivery.topic == "orders/cancelled" or not delivery.shop.is_active:
        return None
    if not services._order_is_trigger(program, delivery.topic, payload):
        return None
    order_id = services._int_or_none(payload.get("id"))
    customer = payload.get("customer")
    if order_id is None or not isinstance(customer, dict):
        return None
    customer_id = services._int_or_none(customer.get("id"))
    if customer_id is None:
        return None
    for name in ("line_items", "shipping_lines", "discount_codes"):
        if not isinstance(payload.get(name) or [], list):
            return None
    return _Candidate(delivery, order_id, customer_id, customer, keys)


def _independent(
    candidates: list[_Candidate], blocked: set[tuple[Any, ...]]
) -> tuple[list[_Candidate], list[_Candidate]]:
    """Split candidates into those independent of ``blocked`` keys (and of each other's
    orders) and the rest, to a fixpoint: a candidate left out blocks its order, customer
    and code keys too."""
    blocked = set(blocked)
    order_count: dict[tuple[Any, ...], int] = defaultdict(int)
    for cand in candidates:
        order_count[("order", cand.delivery.shop.pk, cand.order_id)] += 1
    for key, count in order_count.items():
        if count > 1:
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
    (``pre_save`` + ``get_db_prep_save``), so the stored values are those ``save()`` would
    store. ``raw`` (one row only): driver-ready values for some fields, used as they are
    (the webhook view passes the body's own JSON text for ``payload``). Returns the
    inserted rows only."""
    if not objs:
        return []
    db = connections[DEFAULT_DB_ALIAS]  # the thread's connection itself, not the proxy
    many = len(objs) > 1
    if many and raw:
        raise ValueError("raw values are for a single row")
    raw = raw or {}
    fields, sql = _insert_sql(db, model, conflict, returning, many)
    values: list[list[Any]] = [[] for _ in fields]
    for obj in objs:
        for column, f in zip(values, fields, strict=True):
            if f.name in raw:
                column.append(raw[f.name])
                continue
            value = f.pre_save(obj, True)
            if not (isinstance(value, Decimal) and isinstance(f, models.DecimalField)):
                value = f.get_db_prep_save(value, db)  # a Decimal goes as it is
            column.append(value)
    if many:
        return _execute_bound(db, sql, values, fetch=True)
    with _cursor_bound(db) as cursor:  # one row (the webhook view)
        cursor.execute(sql, [column[0] for column in values])
        return list(cursor.fetchall())


def _cursor_bound(db: Any) -> Any:
    """Django's cursor wrapper (query logging, execute wrappers) around a server-binding
    psycopg cursor: no quoting of the parameters in Python, and psycopg prepares a
    statement it sees repeatedly, so PostgreSQL stops parsing and planning the view's
    insert."""
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
) -> set[int]:
    """Credit the batchable deliveries of a claimed set in one transaction.

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
    for delivery in deliveries:
        keys = _delivery_keys(delivery)
        if keys is None:
            poisoned_shops.add(delivery.shop.pk)
            continue
        cand = _candidate(delivery, programs.get(delivery.shop.pk), keys)
        if cand is None:
            blocked |= keys
        else:
            candidates.append(cand)
    candidates = [c for c in candidates if c.delivery.shop.pk not in poisoned_shops]
    kept, _ = _independent(candidates, blocked)
    if len(kept) < min_batch:
        return set()

    kept, known_members = _drop_known_orders_and_linked_guests(kept, blocked, programs)
    kept = _orders_prepare(kept, blocked, programs, known_members)
    if len(kept) < min_batch:
        return set()
    try:
        with transaction.atomic(durable=True):
            done = _batch_apply(kept, known_members)
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
    known_members: dict[tuple[int, int], int],
) -> list[_Candidate]:
    """Build each order row as the per-delivery path leaves a freshly credited order (the
    snapshot and the earning computed by the services' code). A payload the computation
    chokes on is left to the per-delivery path, which records the error and retries."""
    now = timezone.now()
    events, tags = _events_and_tags(kept)
    failed: set[tuple[Any, ...]] = set()
    for cand in kept:
        delivery, shop_id = cand.delivery, cand.delivery.shop.pk
        program = programs[shop_id]
        when = delivery.triggered_at or now
        try:
            order = LoyaltyOrder(shop_id=shop_id, order_id=cand.order_id)
            services._order_snapshot(order, delivery.payload)
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
        order.member_id = known_members.get((shop_id, cand.customer_id))
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
        order.state = LoyaltyOrder.State.CREDITED
        order.credited_at = now
        cand.order, cand.earned = order, earning.points
    if failed:
        kept, _ = _independent(kept, blocked | failed)
    return kept


def _drop_known_orders_and_linked_guests(
    kept: list[_Candidate], blocked: set[tuple[Any, ...]], programs: dict[int, LoyaltyProgram]
) -> tuple[list[_Candidate], dict[tuple[int, int], int]]:
    """Leave to the per-delivery path orders Beam already holds (a refund came first, a
    duplicate order) and first orders of new members whose email has held guest orders
    (the member's creation credits them). Also returns the known members' pks."""
    by_shop: dict[int, list[_Candidate]] = defaultdict(list)
    for cand in kept:
        by_shop[cand.delivery.shop.pk].append(cand)
    extra_blocked: set[tuple[Any, ...]] = set()
    known_members: dict[tuple[int, int], int] = {}
    for shop_id, cands in by_shop.items():
        known = set(
            LoyaltyOrder.objects.filter(
                shop_id=shop_id, order_id__in={c.order_id for c in cands}
            ).values_list("order_id", flat=True)
        )
        for pk, customer_id in Member.objects.filter(
            shop_id=shop_id, customer_id__in={c.customer_id for c in cands}
        ).values_list("pk", "customer_id"):
            known_members[(shop_id, customer_id)] = pk
        first_email: dict[int, str] = {}
        for cand in cands:
            if cand.order_id in known:
                extra_blocked.add(("order", shop_id, cand.order_id))
            if (shop_id, cand.customer_id) not in known_members:
                first_email.setdefault(cand.customer_id, _new_member_email(cand))
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
                extra_blocked.add(("customer", shop_id, customer_id))
    if extra_blocked:
        kept, _ = _independent(kept, blocked | extra_blocked)
    return kept, known_members


def _new_member_email(cand: _Candidate) -> str:
    """The email ``order_webhook_process`` gives a member it creates."""
    return _clean_email(cand.customer.get("email") or cand.delivery.payload.get("email"))


def _events_and_tags(
    cands: Iterable[_Candidate],
) -> tuple[dict[int, list[BonusEvent]], dict[int, dict[int, set[str]]]]:
    by_shop: dict[int, set[int]] = defaultdict(set)
    for cand in cands:
        shop_id = cand.delivery.shop.pk
        by_shop.setdefault(shop_id, set())
        for line in cand.delivery.payload.get("line_items") or []:
            if isinstance(line, dict):
                pid = services._int_or_none(line.get("product_id"))
                if pid is not None:
                    by_shop[shop_id].add(pid)
    events = {shop_id: list(BonusEvent.objects.filter(shop_id=shop_id)) for shop_id in by_shop}
    tags = {
        shop_id: services._product_tags(shop=Shop(pk=shop_id), product_ids=pids)
        for shop_id, pids in by_shop.items()
    }
    return events, tags


def _batch_apply(kept: list[_Candidate], known_members: dict[tuple[int, int], int]) -> set[int]:
    """The transaction's body; returns the keys of the deliveries it credited."""
    now = timezone.now()
    # 1. The orders (lock order: orders first), in (shop, order id) order.
    kept.sort(key=lambda c: (c.delivery.shop.pk, c.order_id))
    inserted = {
        (shop_id, order_id): pk
        for pk, shop_id, order_id in rows_insert_returning(
            LoyaltyOrder,
            [c.order for c in kept if c.order is not None],
            conflict=("shop", "order_id"),
            returning=("id", "shop", "order_id"),
        )
    }
    if len(inserted) != len(kept):
        # Another worker created one of these orders since the check: start over per delivery.
        raise _Abort("an order was created concurrently")
    for cand in kept:
        assert cand.order is not None
        cand.order.pk = inserted[(cand.delivery.shop.pk, cand.order_id)]
    kept.sort(key=lambda c: c.delivery.key)

    # 2. The members: create the new ones (first delivery's profile), then lock all in pk order.
    states = _members_lock(kept, known_members)
    by_shop: dict[int, list[int]] = defaultdict(list)
    for shop_id, customer_id in states:
        by_shop[shop_id].append(customer_id)
    for shop_id, customer_ids in by_shop.items():  # their storefront views, after commit
        members_changed_on_commit(shop_id=shop_id, customer_ids=customer_ids)

    # 3. Replay each delivery's member effects in delivery order.
    entries: list[LedgerEntry] = []
    seen: set[tuple[int, int]] = set()
    for cand in kept:
        assert cand.order is not None
        shop_id = cand.delivery.shop.pk
        state = states[(shop_id, cand.customer_id)]
        member = state.member
        assert member is not None
        if cand.order.member_id is None:
            cand.order.member_id = member.pk
        ident = (shop_id, cand.customer_id)
        first = ident not in seen
        seen.add(ident)
        if not (state.created and first):  # the creating delivery's profile is the insert's
            state.profile_changed |= set(
                services.member_profile_apply(
                    member,
                    email=_new_member_email(cand),
                    first_name=cand.customer.get("first_name"),
                    last_name=cand.customer.get("last_name"),
                )
            )
        if cand.earned > 0:
            order = cand.order
            pending = order.points_pending > 0
            entries.append(
                LedgerEntry(
                    shop_id=shop_id,
                    member_id=member.pk,
                    amount=cand.earned,
                    kind=LedgerEntry.Kind.ORDER_EARN,
                    bucket=LedgerEntry.Bucket.PENDING if pending else LedgerEntry.Bucket.AVAILABLE,
                    release_at=order.release_at,
                    source_type="order",
                    source_id=str(order.order_id),
                    idempotency_key=f"order:{order.order_id}:earn",
                    note=order.name,
                )
            )
            if pending:
                member.pending_points += cand.earned
            else:
                member.balance += cand.earned
            member.lifetime_earned += cand.earned
            member.last_activity_at = now
            state.profile_changed |= {
                "balance",
                "pending_points",
                "lifetime_earned",
                "last_activity_at",
            }
    posted = rows_insert_returning(
        LedgerEntry, entries, conflict=("shop", "idempotency_key"), returning=("id",)
    )
    if len(posted) != len(entries):  # a key already used: the per-delivery path decides
        raise _Abort("an earning entry already exists")
    touched = [s.member for s in states.values() if s.member is not None and s.profile_changed]
    touched.sort(key=lambda m: m.pk)
    _update_from_arrays(
        Member._meta.db_table,
        "id",
        {
            "balance": ("integer", [m.balance for m in touched]),
            "pending_points": ("integer", [m.pending_points for m in touched]),
            "lifetime_earned": ("integer", [m.lifetime_earned for m in touched]),
            "last_activity_at": ("timestamptz", [m.last_activity_at for m in touched]),
            "email": ("text", [m.email for m in touched]),
            "first_name": ("text", [m.first_name for m in touched]),
            "last_name": ("text", [m.last_name for m in touched]),
            "updated_at": ("timestamptz", [now] * len(touched)),
        },
        [m.pk for m in touched],
    )
    fresh = [
        c.order
        for c in kept
        if c.order is not None and (c.delivery.shop.pk, c.customer_id) not in known_members
    ]
    _update_from_arrays(
        LoyaltyOrder._meta.db_table,
        "id",
        {"member_id": ("bigint", [o.member_id for o in fresh])},
        [o.pk for o in fresh],
    )
    # 4. Attribution of redemption codes, in delivery order.
    for cand in kept:
        if services.order_discount_codes(cand.delivery.payload):
            services._redemptions_attribute(
                shop=cand.delivery.shop, order_id=cand.order_id, payload=cand.delivery.payload
            )
    return {c.delivery.key for c in kept}


def _members_lock(
    kept: list[_Candidate], known: dict[tuple[int, int], int]
) -> dict[tuple[int, int], _MemberState]:
    """Insert the members not seen before (profile of their first delivery, as
    ``get_or_create`` would), then lock every member of the batch in pk order."""
    states: dict[tuple[int, int], _MemberState] = {}
    new: list[Member] = []
    for cand in kept:
        ident = (cand.delivery.shop.pk, cand.customer_id)
        if ident in states:
            continue
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
    created = {
        (shop_id, customer_id)
        for _, shop_id, customer_id in rows_insert_returning(
            Member, new, conflict=("shop", "customer_id"), returning=("id", "shop", "customer_id")
        )
    }
    by_shop: dict[int, set[int]] = defaultdict(set)
    for shop_id, customer_id in states:
        by_shop[shop_id].add(customer_id)
    q = models.Q()
    for shop_id, customer_ids in by_shop.items():
        q |= models.Q(shop_id=shop_id, customer_id__in=customer_ids)
    for member in member_qs_select_for_update().filter(q):
        state = states[(member.shop_id, member.customer_id)]
        state.member = member
        state.created = (member.shop_id, member.customer_id) in created
    if any(s.member is None for s in states.values()):
        raise _Abort("a member disappeared")
    return states
