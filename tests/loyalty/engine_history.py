"""The histories the crediting engine is checked on: data, platform payloads, strategies.

A history has two phases, each delivered in any order (duplicates and the same event under
a second webhook id included): phase 1 holds every order delivery (paid, fulfilled), the
customers' sign-ups and some refunds and cancellations; between the phases the members may
spend their points down to ``spend_to``; phase 2 holds the other refunds and cancellations
of those orders and the sign-ups of guests. ``tests/loyalty/engine_model.py`` predicts the
outcome.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.loyalty.factories import fixture as fixture_read

CENT = Decimal("0.01")
_FIXTURES: dict[str, dict[str, Any]] = {}


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of a webhook fixture (read from disk once)."""
    if name not in _FIXTURES:
        _FIXTURES[name] = fixture_read(name)
    return copy.deepcopy(_FIXTURES[name])


ZERO = Decimal(0)


@dataclass(frozen=True)
class Program:
    points_per_unit: Decimal
    rounding: str  # down | nearest | up
    include_tax: bool
    include_shipping: bool
    trigger: str  # paid | fulfilled
    pending_days: int
    policy: str  # deduct_to_zero_record_shortfall | allow_negative
    welcome: int
    minimum: Decimal
    enabled: bool
    test_orders_earn: bool = False
    guest_window: int = 30  # days


@dataclass(frozen=True)
class Line:
    line_id: int
    price: Decimal
    quantity: int
    discount: Decimal
    tax: Decimal
    gift_card: bool

    @property
    def amount(self) -> Decimal:
        return self.price * self.quantity - self.discount


@dataclass(frozen=True)
class Order:
    order_id: int
    customer_id: int | None  # None: a guest, known by ``email`` only
    email: str
    lines: tuple[Line, ...]
    shipping: Decimal | None
    shipping_tax: Decimal
    taxes_included: bool
    currency: str
    paid_fulfilled: bool  # the orders/paid payload says fulfillment_status "fulfilled"
    test: bool = False  # the platform's ``"test": true`` (a test gateway's order)
    placed_days_ago: int = 0  # its created_at / processed_at, days before it is delivered


@dataclass(frozen=True)
class RefundLine:
    line: Line
    subtotal: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Refund:
    refund_id: int
    order_id: int
    lines: tuple[RefundLine, ...]
    shipping: Decimal


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    topic: str
    payload: dict[str, Any] = field(hash=False, compare=False, repr=False)
    phase: int


@dataclass
class History:
    program: Program
    orders: list[Order]
    refunds: list[tuple[int, Refund]]  # (phase, refund)
    cancels: dict[int, int]  # order id -> phase
    triggers: dict[int, set[str]]  # order id -> order topics delivered
    signups: list[tuple[int, int, str]]  # (phase, customer id, email)
    spend_to: int | None
    deliveries: list[Delivery]  # generation order, phase 1 first
    shuffled: list[Delivery]  # the same, shuffled within each phase

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis's report
        printer.text(repr(self))

    def __repr__(self) -> str:
        deliveries = ", ".join(f"{d.webhook_id}@{d.phase}" for d in self.shuffled)
        return (
            f"History(program={self.program!r},\n orders={self.orders!r},\n"
            f" refunds={self.refunds!r},\n cancels={self.cancels!r}, triggers={self.triggers!r},"
            f"\n signups={self.signups!r}, spend_to={self.spend_to!r},\n shuffled=[{deliveries}])"
        )


# --- payloads ---------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    text = str(amount.quantize(CENT))
    return {
        "shop_money": {"amount": text, "currency_code": currency},
        "presentment_money": {"amount": text, "currency_code": currency},
    }


def _tax_lines(tax: Decimal, currency: str) -> list[dict[str, Any]]:
    if not tax:
        return []
    return [{"price": str(tax), "price_set": _money(tax, currency), "rate": 0.08, "title": "VAT"}]


def _allocations(amount: Decimal, currency: str) -> list[dict[str, Any]]:
    if not amount:
        return []
    return [
        {
            "amount": str(amount),
            "amount_set": _money(amount, currency),
            "discount_application_index": 0,
        }
    ]


def _line_payload(line: Line, currency: str) -> dict[str, Any]:
    body = fixture("orders_paid")["line_items"][0]
    body.update(
        id=line.line_id,
        price=str(line.price),
        price_set=_money(line.price, currency),
        quantity=line.quantity,
        current_quantity=line.quantity,
        product_id=100 + line.line_id % 7,
        gift_card=line.gift_card,
        discount_allocations=_allocations(line.discount, currency),
        tax_lines=_tax_lines(line.tax, currency),
    )
    return body


def order_payload(order: Order, *, fulfilled: bool) -> dict[str, Any]:
    """The order as the platform sends it (the fixture's shape with the drawn values)."""
    cur = order.currency
    payload = fixture("orders_paid")
    lines = [_line_payload(line, cur) for line in order.lines]
    total = sum((li.amount for li in order.lines), ZERO) + (order.shipping or ZERO)
    if not order.taxes_included:
        total += sum((li.tax for li in order.lines), ZERO) + order.shipping_tax
    payload.update(
        id=order.order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order.order_id}",
        name=f"#{order.order_id}",
        line_items=lines,
        email=order.email,
        contact_email=order.email,
        taxes_included=order.taxes_included,
        currency=cur,
        presentment_currency=cur,
        total_price=str(total),
        total_price_set=_money(total, cur),
        discount_codes=[],
        fulfillment_status="fulfilled" if fulfilled else None,
        test=order.test,
    )
    placed = datetime.now(UTC) - timedelta(days=order.placed_days_ago)
    payload["created_at"] = payload["processed_at"] = placed.isoformat()
    if order.customer_id is None:
        payload["customer"] = None
    else:
        payload["customer"].update(
            id=order.customer_id,
            email=order.email,
            admin_graphql_api_id=f"gid://shopify/Customer/{order.customer_id}",
        )
    if order.shipping is None:
        payload["shipping_lines"] = []
    else:
        ship = payload["shipping_lines"][0]
        ship.update(
            price=str(order.shipping),
            price_set=_money(order.shipping, cur),
            tax_lines=_tax_lines(order.shipping_tax, cur),
            discount_allocations=[],
        )
    return payload


def refund_payload(refund: Refund, currency: str) -> dict[str, Any]:
    payload = fixture("refunds_create")
    template = payload["refund_line_items"][0]
    rlis = []
    for n, rl in enumerate(refund.lines):
        rli = copy.deepcopy(template)
        rli.update(
            id=refund.refund_id * 10 + n,
            line_item_id=rl.line.line_id,
            subtotal=str(rl.subtotal),
            subtotal_set=_money(rl.subtotal, currency),
            total_tax=str(rl.tax),
            total_tax_set=_money(rl.tax, currency),
        )
        rli["line_item"] = _line_payload(rl.line, currency)
        rlis.append(rli)
    shipping = []
    if refund.shipping:
        shipping = [
            {
                "id": refund.refund_id,
                "shipping_line_id": 1,
                "subtotal_amount_set": _money(refund.shipping, currency),
                "subtotal_amount": str(refund.shipping),
            }
        ]
    payload.update(
        id=refund.refund_id,
        admin_graphql_api_id=f"gid://shopify/Refund/{refund.refund_id}",
        order_id=refund.order_id,
        refund_line_items=rlis,
        refund_shipping_lines=shipping,
        order_adjustments=[],
    )
    return payload


def customer_payload(customer_id: int, email: str) -> dict[str, Any]:
    return {
        "id": customer_id,
        "email": email,
        "first_name": "Ann",
        "last_name": "Lee",
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
    }


# --- the strategy -----------------------------------------------------------------------------

CLEAN = 16  # independent paid orders that open a batchable history
_cents = st.integers(min_value=1, max_value=20_000).map(lambda c: Decimal(c) / 100)


@st.composite
def programs(draw: st.DrawFn, *, batchable: bool = False) -> Program:
    """Program settings; ``batchable``: ones the batch path credits (on payment, enabled)."""
    return Program(
        points_per_unit=draw(st.sampled_from([Decimal(1), Decimal("1.5"), Decimal("0.1"), 3])),
        rounding=draw(st.sampled_from(["down", "nearest", "up"])),
        include_tax=draw(st.booleans()),
        include_shipping=draw(st.booleans()),
        trigger=draw(st.sampled_from(["paid"] if batchable else ["paid", "paid", "fulfilled"])),
        pending_days=draw(st.sampled_from([0, 0, 14])),
        policy=draw(st.sampled_from(["deduct_to_zero_record_shortfall", "allow_negative"])),
        welcome=draw(st.sampled_from([0, 25])),
        minimum=draw(st.sampled_from([ZERO, ZERO, Decimal(20)])),
        enabled=batchable or draw(st.sampled_from([True] * 9 + [False])),
        test_orders_earn=draw(st.booleans()),
        guest_window=draw(st.sampled_from([30, 30, 5])),
    )


@st.composite
def _line(draw: st.DrawFn, line_id: int) -> Line:
    price = draw(_cents)
    quantity = draw(st.integers(1, 3))
    gross = price * quantity
    discount = draw(st.sampled_from([ZERO, ZERO, (gross / 4).quantize(CENT)]))
    tax = draw(st.sampled_from([ZERO, ((gross - discount) * Decimal("0.08")).quantize(CENT)]))
    gift_card = draw(st.sampled_from([False] * 9 + [True]))
    return Line(line_id, price, quantity, discount, tax, gift_card)


@st.composite
def _order(draw: st.DrawFn, order_id: int, owner: int | str, *, clean: bool = False) -> Order:
    """``clean``: a real order placed now (one the batch path credits)."""
    taxes_included = draw(st.booleans())
    lines = tuple(draw(_line(n + 1)) for n in range(draw(st.integers(1, 3))))
    shipping = draw(st.sampled_from([None, Decimal("7.50"), Decimal("0.00")]))
    return Order(
        order_id=order_id,
        customer_id=owner if isinstance(owner, int) else None,
        email=f"c{owner}@example.com" if isinstance(owner, int) else owner,
        lines=lines,
        shipping=shipping,
        shipping_tax=Decimal("0.60") if shipping and draw(st.booleans()) else ZERO,
        taxes_included=taxes_included,
        currency=draw(st.sampled_from(["USD", "USD", "EUR", "JPY"])),
        paid_fulfilled=draw(st.sampled_from([False, False, True])),
        test=not clean and draw(st.sampled_from([False] * 5 + [True])),
        placed_days_ago=0 if clean else draw(st.sampled_from([0, 0, 0, 3, 40])),
    )


@st.composite
def _refund(draw: st.DrawFn, refund_id: int, order: Order) -> Refund:
    if draw(st.booleans()):  # full refund
        parts = [(line, 4) for line in order.lines]
        shipping = order.shipping or ZERO
    else:
        chosen = draw(st.lists(st.sampled_from(order.lines), min_size=1, max_size=2, unique=True))
        parts = [(line, draw(st.integers(1, 3))) for line in chosen]
        shipping = ZERO
    lines = tuple(
        RefundLine(
            line,
            (line.amount * quarters / 4).quantize(CENT),
            (line.tax * quarters / 4).quantize(CENT),
        )
        for line, quarters in parts
    )
    return Refund(refund_id, order.order_id, lines, shipping)


@st.composite
def histories(
    draw: st.DrawFn, *, min_orders: int = 1, max_orders: int = 10, batchable: bool = False
) -> History:
    """``batchable``: the first ``CLEAN`` orders are of distinct customers, paid once and
    refunded in phase 2 at most: deliveries the batch path takes, whatever the others."""
    program = draw(programs(batchable=batchable))
    clean = CLEAN if batchable else 0
    customers = [9000 + n for n in range(clean + draw(st.integers(1, 5)))]
    guests = [f"guest{n}@example.com" for n in range(draw(st.integers(0, 2)))]
    owners: list[int | str] = [*customers[clean:], *guests]
    orders: list[Order] = []
    refunds: list[tuple[int, Refund]] = []
    cancels: dict[int, int] = {}
    triggers: dict[int, set[str]] = {}
    raw: list[tuple[str, str, dict[str, Any], int]] = []  # (webhook id, topic, payload, phase)
    for n in range(draw(st.integers(max(min_orders, clean), max(max_orders, clean)))):
        is_clean = n < clean
        owner = customers[n] if is_clean else draw(st.sampled_from(owners))
        order = draw(_order(50_000 + n, owner, clean=is_clean))
        orders.append(order)
        topics = set()
        if is_clean or draw(st.sampled_from([True] * 7 + [False])):
            topics.add("orders/paid")
            fulfilled = order.paid_fulfilled
            raw.append((f"paid-{n}", "orders/paid", order_payload(order, fulfilled=fulfilled), 1))
        if not is_clean and draw(st.sampled_from([False, False, True])):
            topics.add("orders/fulfilled")
            raw.append((f"ful-{n}", "orders/fulfilled", order_payload(order, fulfilled=True), 1))
        triggers[order.order_id] = topics
        for k in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
            refund = draw(_refund(70_000 + 10 * n + k, order))
            phase = 2 if is_clean else draw(st.integers(1, 2))
            refunds.append((phase, refund))
            raw.append(
                (f"refund-{n}-{k}", "refunds/create", refund_payload(refund, order.currency), phase)
            )
        if not is_clean and draw(st.sampled_from([False] * 8 + [True])):
            phase = draw(st.integers(1, 2))
            cancels[order.order_id] = phase
            raw.append(
                (f"cancel-{n}", "orders/cancelled", order_payload(order, fulfilled=False), phase)
            )
    signups: list[tuple[int, int, str]] = []
    for customer_id in customers[clean:]:
        if draw(st.sampled_from([False, False, True])):
            signups.append((1, customer_id, f"c{customer_id}@example.com"))
    for n, email in enumerate(guests):
        if draw(st.booleans()):
            signups.append((2, 9500 + n, email))
    for phase, customer_id, email in signups:
        raw.append(
            (
                f"signup-{customer_id}",
                "customers/create",
                customer_payload(customer_id, email),
                phase,
            )
        )
    deliveries: list[Delivery] = []
    for webhook_id, topic, payload, phase in raw:
        deliveries.append(Delivery(webhook_id, topic, payload, phase))
        again = draw(st.sampled_from(["", "", "", "", "same-id", "other-id"]))
        if again == "other-id" and webhook_id.startswith("paid-") and int(webhook_id[5:]) < clean:
            again = "same-id"  # a second trigger would take the order off the batch path
        if again == "same-id":  # a platform retry of the very delivery
            deliveries.append(Delivery(webhook_id, topic, payload, phase))
        elif again == "other-id":  # the same event delivered under a second webhook id
            deliveries.append(Delivery(f"{webhook_id}-again", topic, payload, phase))
    deliveries.sort(key=lambda d: d.phase)
    shuffled = [
        *draw(st.permutations([d for d in deliveries if d.phase == 1])),
        *draw(st.permutations([d for d in deliveries if d.phase == 2])),
    ]
    spend_to = draw(st.sampled_from([None, 0, 5, 40]))
    return History(
        program, orders, refunds, cancels, triggers, signups, spend_to, deliveries, shuffled
    )
