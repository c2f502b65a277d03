"""End to end through the devstore, in-process (no browser): Beam is installed the way a
merchant installs it, shoppers sign up and check out in the simulated store, the store sends
signed webhooks to Beam's real endpoints, and Beam's inbox, reconciliation and points engine
do the rest. Transactions really commit (``transaction=True``), so every after-commit step
(webhook sending, inbox processing, redemption issuing) runs as in production, with Celery
eager. Point values are computed by hand in the comments.
"""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from devstore import services as store
from devstore.errors import DiscountCodeRefused
from devstore.models import (
    DevAppToken,
    DevCustomer,
    DevDiscountCode,
    DevOrder,
    DevShop,
    DevVariant,
    DevWebhookLog,
)
from devstore.signing import webhook_hmac
from devstore.webhooks import webhook_headers, webhooks_release_held
from loyalty.models import LedgerEntry, LoyaltyOrder, LoyaltyProgram, Member, Redemption, Reward
from loyalty.services import (
    ledger_verify,
    program_get_or_create,
    redemptions_expire_due,
    reward_redeem,
)
from merchants.errors import ShopNotInstalled
from merchants.models import Shop, WebhookDelivery
from merchants.reconciliation import orders_reconcile
from merchants.shopify import operations as ops
from merchants.shopify.signatures import webhook_hmac_valid

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

DOMAIN = "flow-store.myshopify.com"
WELCOME = 50
Kind = LedgerEntry.Kind


# --- helpers --------------------------------------------------------------------------------


def _client() -> Client:
    return Client(HTTP_HOST="beam.test")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def install_managed(dev_shop: DevShop) -> Shop:
    """Open Beam in the store admin: the admin frame loads the App URL with an ``id_token``
    (managed install); Beam verifies it and exchanges it with the store for a token."""
    client = _client()
    frame = client.get(f"/devstore/{dev_shop.domain}/admin/apps/beam")
    assert frame.status_code == 200
    src = html.unescape(re.search(r'<iframe[^>]* src="([^"]+)"', frame.content.decode())[1])
    assert parse_qs(urlsplit(src).query)["id_token"]

    app = client.get(_path(src), headers={"Accept": "text/html"})

    assert app.status_code == 200, app.content[:500]
    return Shop.objects.get(domain=dev_shop.domain)


def install_by_code(dev_shop: DevShop) -> Shop:
    """The authorization-code fallback: /auth/install → the store's consent page → Install
    → /auth/callback (signed, with the nonce) → Beam exchanges the code."""
    client = _client()
    start = client.get(f"/auth/install?shop={dev_shop.domain}")
    assert start.status_code == 302
    consent_url = start["Location"]
    assert consent_url.startswith(f"http://beam.test/devstore/{dev_shop.domain}/admin/oauth/")
    consent = client.get(_path(consent_url))
    assert consent.status_code == 200 and b"Install" in consent.content
    query = {k: v[0] for k, v in parse_qs(urlsplit(consent_url).query).items()}

    approved = client.post(
        _path(consent_url).split("?")[0],
        {
            "client_id": query["client_id"],
            "scope": query["scope"],
            "redirect_uri": query["redirect_uri"],
            "state": query["state"],
        },
    )
    assert approved.status_code == 302
    assert approved["Location"].startswith("http://beam.test/auth/callback?")

    callback = client.get(_path(approved["Location"]))

    assert callback.status_code == 302, callback.content[:500]
    return Shop.objects.get(domain=dev_shop.domain)


INSTALLS = {"managed": install_managed, "authorization_code": install_by_code}


def configure_program(shop: Shop, **fields) -> LoyaltyProgram:
    """What the merchant sets in the admin: 1 point per $1 (the default), welcome points."""
    program = program_get_or_create(shop=shop)
    LoyaltyProgram.objects.filter(pk=program.pk).update(welcome_points=WELCOME, **fields)
    program.refresh_from_db()
    return program


def sign_up(dev_shop: DevShop, email: str, first: str = "Ada", last: str = "Lovelace"):
    """A shopper creates an account in the store (the admin's customer form)."""
    response = _client().post(
        f"/devstore/{dev_shop.domain}/customers",
        {"email": email, "first_name": first, "last_name": last},
    )
    assert response.status_code == 302
    return DevCustomer.objects.get(shop=dev_shop, email=email)


def checkout(
    dev_shop: DevShop,
    customer: DevCustomer,
    variants: list[DevVariant],
    *,
    code: str = "",
    shipping: str = "5.00",
) -> DevOrder:
    """The storefront: log in, add to cart, check out (paid at once)."""
    client = _client()
    base = f"/devstore/{dev_shop.domain}"
    before = set(DevOrder.objects.filter(shop=dev_shop).values_list("id", flat=True))
    assert client.post(f"{base}/login", {"customer_id": customer.id}).status_code == 302
    for variant in variants:
        assert client.post(f"{base}/cart/add", {"variant_id": variant.id}).status_code == 302
    placed = client.post(
        f"{base}/cart",
        {"customer_id": str(customer.id), "shipping": shipping, "discount_code": code},
    )
    (order,) = DevOrder.objects.filter(shop=dev_shop).exclude(id__in=before)
    thank_you = reverse("devstore:checkout_thank_you", args=[dev_shop.domain, order.id])
    assert placed.status_code == 302 and placed["Location"] == thank_you, placed.content
    return order


def member_of(shop: Shop, customer: DevCustomer) -> Member:
    return Member.objects.get(shop=shop, customer_id=customer.id)


def ledger(member: Member) -> list[tuple[str, int]]:
    return [(e.kind, e.amount) for e in member.entries.order_by("pk")]


def assert_ledger_consistent(shop: Shop) -> None:
    report = ledger_verify(shop=shop)
    assert report.drifts == []
    for member in Member.objects.filter(shop=shop):
        assert member.balance == sum(
            member.entries.filter(bucket="available").values_list("amount", flat=True)
        )


@pytest.fixture
def dev_shop() -> DevShop:
    shop = store.shop_create(DOMAIN, name="Flow Store", currency="USD", iana_timezone="UTC")
    store.product_create(shop, "Lamp", Decimal("50.00"))
    store.product_create(shop, "Mug", Decimal("15.00"))
    return shop


def variant(dev_shop: DevShop, title: str) -> DevVariant:
    return DevVariant.objects.get(product__shop=dev_shop, product__title=title)


# --- (a) install, order, signed webhook, recorded, processed, credited -------------------------


@pytest.mark.parametrize("how", list(INSTALLS))
def test_install_then_checkout_order_is_delivered_recorded_processed_and_credited(
    dev_shop: DevShop, how: str
) -> None:
    shop = INSTALLS[how](dev_shop)

    # installed with an expiring offline token the store issued, details pulled from the store
    assert shop.is_active and shop.installed_at is not None
    live = DevAppToken.objects.get(shop=dev_shop, revoked_at__isnull=True)
    assert shop.access_token == live.access_token
    assert shop.refresh_token == live.refresh_token
    assert shop.access_token_expires_at is not None
    assert (shop.name, shop.currency, shop.iana_timezone) == ("Flow Store", "USD", "UTC")
    assert ops.shop_details_fetch(shop).name == "Flow Store"

    configure_program(shop)
    customer = sign_up(dev_shop, "ada@example.com")
    lamp, mug = variant(dev_shop, "Lamp"), variant(dev_shop, "Mug")
    order = checkout(dev_shop, customer, [lamp, lamp, mug])  # 50 + 50 + 15, shipping 5

    # the store signed and sent orders/paid; Beam answered 200
    sent = DevWebhookLog.objects.get(shop=dev_shop, topic="orders/paid")
    assert (sent.status, sent.response_code, sent.url) == (
        "delivered",
        200,
        "http://beam.test/webhooks/orders/paid",
    )
    signature = webhook_headers(sent, sent.body.encode())["X-Shopify-Hmac-Sha256"]
    assert signature == webhook_hmac(sent.body.encode(), "beam-test-api-secret")
    assert webhook_hmac_valid(sent.body.encode(), signature, secrets=["beam-test-api-secret"])
    # Beam recorded it once, with its headers, and processed it
    delivery = WebhookDelivery.objects.get(shop=shop, topic="orders/paid")
    assert delivery.webhook_id == sent.webhook_id
    assert delivery.resource_id == order.id
    assert delivery.source == WebhookDelivery.Source.WEBHOOK
    assert delivery.headers["X-Shopify-Topic"] == "orders/paid"
    assert delivery.headers["X-Shopify-Webhook-Id"] == sent.webhook_id
    assert delivery.headers["X-Shopify-Shop-Domain"] == DOMAIN
    assert "X-Shopify-Hmac-Sha256" not in delivery.headers  # not kept: nothing to replay with
    assert delivery.payload == json.loads(sent.body)
    assert (delivery.status, delivery.last_error) == ("succeeded", "")
    assert delivery.processed_at is not None
    assert set(WebhookDelivery.objects.filter(shop=shop).values_list("topic", "status")) == {
        ("customers/create", "succeeded"),
        ("orders/paid", "succeeded"),
    }
    # and the loyalty order is credited: base = 115.00 subtotal (shipping excluded) → 115
    loyalty_order = LoyaltyOrder.objects.get(shop=shop, order_id=order.id)
    assert loyalty_order.state == LoyaltyOrder.State.CREDITED
    assert (loyalty_order.base, loyalty_order.points_earned) == (Decimal("115.00"), 115)
    assert (loyalty_order.total_price, loyalty_order.subtotal_price) == (
        Decimal("120.00"),
        Decimal("115.00"),
    )
    assert loyalty_order.order_gid == f"gid://shopify/Order/{order.id}"
    member = member_of(shop, customer)
    assert loyalty_order.member_id == member.pk
    assert ledger(member) == [(Kind.WELCOME, WELCOME), (Kind.ORDER_EARN, 115)]
    assert (member.balance, member.lifetime_earned) == (165, 165)
    assert_ledger_consistent(shop)


# --- (b) issue 3: sign up, earn, refund half, redeem, use the code, another expires ------------


def test_points_lifecycle_welcome_earn_refund_redeem_use_and_expire(dev_shop: DevShop) -> None:
    shop = install_managed(dev_shop)
    configure_program(shop)
    reward = Reward.objects.create(
        shop=shop, name="$5 off", kind=Reward.Kind.FIXED_AMOUNT, points_cost=40, value=5
    )

    # signs up: welcome points
    ada = sign_up(dev_shop, "ada@example.com")
    member = member_of(shop, ada)
    assert member.balance == WELCOME  # 50

    # orders and pays: 2 lamps = 100.00 → 100 points
    lamp = variant(dev_shop, "Lamp")
    first = checkout(dev_shop, ada, [lamp, lamp])
    member.refresh_from_db()
    assert member.balance == 150

    # refunds half (one of the two lamps): 100 x 50/100 = 50 points back out
    (line,) = first.payload["line_items"]
    store.order_refund(first, [(line["id"], 1)], note="One lamp back")
    member.refresh_from_db()
    snapshot = LoyaltyOrder.objects.get(shop=shop, order_id=first.id)
    assert (snapshot.points_earned, snapshot.points_reversed) == (100, 50)
    assert snapshot.refunded_base == Decimal("50.00")
    assert member.balance == 100

    # redeems a reward: the code exists in the store, for this customer only, single use
    redemption = reward_redeem(
        shop=shop, member_id=member.pk, reward_id=reward.pk, client_key="panel-1"
    )
    assert redemption.status == Redemption.Status.ISSUED
    member.refresh_from_db()
    assert member.balance == 60
    code = DevDiscountCode.objects.get(shop=dev_shop, code=redemption.code)
    assert redemption.discount_id == code.gid
    assert code.customer_ids == [ada.id]
    assert (code.usage_limit, code.applies_once_per_customer) == (1, True)
    assert (code.value_type, code.value) == ("fixed_amount", Decimal("5.00"))
    assert store.discount_code_status(code) == "ACTIVE"
    assert abs(code.ends_at - redemption.expires_at) < timedelta(seconds=1)
    # nobody else can use it
    grace = sign_up(dev_shop, "grace@example.com", "Grace", "Hopper")
    with pytest.raises(DiscountCodeRefused):
        store.order_place(dev_shop, customer=grace, lines=[(lamp, 1)], discount_code=code.code)

    # uses it at checkout: 50.00 - 5.00 = 45.00 → 45 points; the redemption is used, linked
    second = checkout(dev_shop, ada, [lamp], code=redemption.code.lower())
    assert second.payload["discount_codes"][0]["code"] == redemption.code
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.USED
    assert redemption.order_id == second.id and redemption.used_at is not None
    used_order = LoyaltyOrder.objects.get(shop=shop, order_id=second.id)
    assert used_order.discount_codes == [redemption.code]
    assert (used_order.base, used_order.points_earned) == (Decimal("45.00"), 45)
    code.refresh_from_db()
    assert code.usage_count == 1
    member.refresh_from_db()
    assert member.balance == 105  # 60 + 45

    # another code expires unused: deactivated in the store, the points come back
    unused = reward_redeem(
        shop=shop, member_id=member.pk, reward_id=reward.pk, client_key="panel-2"
    )
    member.refresh_from_db()
    assert member.balance == 65
    assert redemptions_expire_due(now=unused.expires_at - timedelta(seconds=1)) == 0
    assert redemptions_expire_due(now=unused.expires_at + timedelta(seconds=1)) == 1
    unused.refresh_from_db()
    assert unused.status == Redemption.Status.EXPIRED
    unused_code = DevDiscountCode.objects.get(shop=dev_shop, code=unused.code)
    assert unused_code.status == DevDiscountCode.Status.DEACTIVATED
    assert store.discount_code_status(unused_code) == "EXPIRED"
    with pytest.raises(DiscountCodeRefused):
        store.order_place(dev_shop, customer=ada, lines=[(lamp, 1)], discount_code=unused.code)
    member.refresh_from_db()
    assert member.balance == 105
    assert redemptions_expire_due(now=unused.expires_at + timedelta(days=1)) == 0  # once

    assert ledger(member) == [
        (Kind.WELCOME, 50),
        (Kind.ORDER_EARN, 100),
        (Kind.ORDER_REFUND, -50),
        (Kind.REDEEM, -40),
        (Kind.ORDER_EARN, 45),
        (Kind.REDEEM, -40),
        (Kind.REDEEM_REFUND, 40),
    ]
    assert (member.lifetime_earned, member.lifetime_redeemed) == (145, 40)
    assert member_of(shop, grace).balance == WELCOME
    assert not WebhookDelivery.objects.filter(shop=shop).exclude(status="succeeded").exists()
    assert_ledger_consistent(shop)


# --- (c) a missed webhook: reconciliation pulls the order and credits it once ------------------


def test_dropped_webhook_is_recovered_by_reconciliation_and_credited_once(
    dev_shop: DevShop,
) -> None:
    shop = install_managed(dev_shop)
    configure_program(shop)
    ada = sign_up(dev_shop, "ada@example.com")
    lamp, mug = variant(dev_shop, "Lamp"), variant(dev_shop, "Mug")
    # the store stops delivering (held deliveries never reach Beam unless released)
    DevShop.objects.filter(pk=dev_shop.pk).update(webhook_hold=True)
    dev_shop.refresh_from_db()
    order = store.order_place(dev_shop, customer=ada, lines=[(lamp, 1), (mug, 2)])  # 80.00

    assert set(
        DevWebhookLog.objects.filter(shop=dev_shop, status="held").values_list("topic", flat=True)
    ) == {"orders/paid"}  # the only order topic shopify.app.toml subscribes on placing
    assert not LoyaltyOrder.objects.filter(shop=shop).exists()
    assert member_of(shop, ada).balance == WELCOME

    run = orders_reconcile(shop=Shop.objects.get(pk=shop.pk))

    assert run is not None and (run.status, run.orders_seen, run.orders_fed) == (
        "succeeded",
        1,
        1,
    )
    fed = WebhookDelivery.objects.get(shop=shop, source=WebhookDelivery.Source.RECONCILIATION)
    assert (fed.topic, fed.resource_id, fed.status) == ("orders/paid", order.id, "succeeded")
    snapshot = LoyaltyOrder.objects.get(shop=shop, order_id=order.id)
    assert (snapshot.state, snapshot.base, snapshot.points_earned) == (
        LoyaltyOrder.State.CREDITED,
        Decimal("80.00"),
        80,
    )
    assert member_of(shop, ada).balance == WELCOME + 80

    # a second run finds nothing new
    again = orders_reconcile(shop=Shop.objects.get(pk=shop.pk))
    assert again is not None and (again.orders_seen, again.orders_fed) == (1, 0)
    # a missed refund is pulled the same way: one mug of 80.00 → 80 x 15/80 = 15 back
    (_, mug_line) = order.payload["line_items"]
    store.order_refund(DevOrder.objects.get(pk=order.id), [(mug_line["id"], 1)])
    third = orders_reconcile(shop=Shop.objects.get(pk=shop.pk))
    assert third is not None and third.orders_fed == 1
    assert member_of(shop, ada).balance == WELCOME + 80 - 15

    # the dropped deliveries turn up late, shuffled: recorded, processed, nothing twice
    released = webhooks_release_held(dev_shop, seed=5)
    assert len(released) == 2 and {log.status for log in released} == {"delivered"}
    assert set(
        WebhookDelivery.objects.filter(shop=shop, source="webhook").values_list("topic", "status")
    ) == {
        ("customers/create", "succeeded"),
        ("orders/paid", "succeeded"),
        ("refunds/create", "succeeded"),
    }
    member = member_of(shop, ada)
    assert member.balance == WELCOME + 80 - 15
    assert ledger(member) == [(Kind.WELCOME, 50), (Kind.ORDER_EARN, 80), (Kind.ORDER_REFUND, -15)]
    assert_ledger_consistent(shop)


# --- the store's chaos mode: duplicated, reordered deliveries credit exactly once -------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duplicated_and_reordered_deliveries_credit_exactly_once(
    dev_shop: DevShop, seed: int
) -> None:
    shop = install_managed(dev_shop)
    configure_program(shop)
    ada = sign_up(dev_shop, "ada@example.com")
    lamp, mug = variant(dev_shop, "Lamp"), variant(dev_shop, "Mug")
    DevShop.objects.filter(pk=dev_shop.pk).update(webhook_chaos=True, webhook_hold=True)
    dev_shop.refresh_from_db()

    kept = store.order_place(dev_shop, customer=ada, lines=[(lamp, 2)])  # 100.00 → 100
    (line,) = kept.payload["line_items"]
    store.order_refund(kept, [(line["id"], 1)])  # half back → -50
    store.order_refund(DevOrder.objects.get(pk=kept.id), [(line["id"], 1)])  # the rest → -50
    dropped = store.order_place(dev_shop, customer=ada, lines=[(mug, 2)])  # 30.00 → 30
    store.order_cancel(dropped)  # → -30 (or never credited, if the cancel comes first)
    third = store.order_place(dev_shop, customer=ada, lines=[(mug, 1)])  # 15.00 → 15

    released = webhooks_release_held(dev_shop, seed=seed)

    logs = list(DevWebhookLog.objects.filter(shop=dev_shop, topic__startswith="orders/"))
    assert released and all(log.copies == 2 and log.status == "delivered" for log in released)
    # each delivery arrived twice but was stored once and processed once
    deliveries = WebhookDelivery.objects.filter(shop=shop).exclude(topic="customers/create")
    assert deliveries.count() == len(released)
    assert set(deliveries.values_list("status", flat=True)) == {"succeeded"}
    assert set(deliveries.values_list("webhook_id", flat=True)) == {
        log.webhook_id for log in released
    }
    assert {log.topic for log in logs} >= {"orders/paid", "orders/cancelled"}
    member = member_of(shop, ada)
    assert member.balance == WELCOME + 15  # 100 - 50 - 50, 30 - 30 (or 0), 15
    orders = {o.order_id: o for o in LoyaltyOrder.objects.filter(shop=shop)}
    assert (orders[kept.id].points_earned, orders[kept.id].points_reversed) == (100, 100)
    assert orders[dropped.id].state == LoyaltyOrder.State.CANCELLED
    assert orders[dropped.id].points_earned == orders[dropped.id].points_reversed
    assert orders[third.id].points_earned == 15
    order_of = {log.pk: json.loads(log.body).get("id") for log in released}
    sent = [(log.topic, order_of[log.pk]) for log in released]
    paid_before_cancel = sent.index(("orders/paid", dropped.id)) < sent.index(
        ("orders/cancelled", dropped.id)
    )
    earned = member.entries.filter(kind=Kind.ORDER_EARN).values_list("amount", flat=True)
    assert sorted(earned) == ([15, 30, 100] if paid_before_cancel else [15, 100])
    assert_ledger_consistent(shop)


# --- (d) uninstall, then reinstall ------------------------------------------------------------


def test_uninstall_stops_everything_and_reinstall_reactivates(
    dev_shop: DevShop, platform_http
) -> None:
    shop = install_managed(dev_shop)
    configure_program(shop)
    ada = sign_up(dev_shop, "ada@example.com")
    lamp = variant(dev_shop, "Lamp")
    store.order_place(dev_shop, customer=ada, lines=[(lamp, 1)])  # 50
    assert member_of(shop, ada).balance == WELCOME + 50

    # the merchant removes the app in the store
    response = _client().post(f"/devstore/{DOMAIN}/webhooks", {"action": "uninstall"})
    assert response.status_code == 302

    uninstall = WebhookDelivery.objects.get(shop=shop, topic="app/uninstalled")
    assert uninstall.status == "succeeded"
    shop.refresh_from_db()
    assert not shop.is_active and shop.uninstalled_at is not None
    assert shop.access_token_encrypted == "" and shop.refresh_token_encrypted == ""
    # no more API calls, jobs or webhooks
    calls_before = len(platform_http.calls)
    with pytest.raises(ShopNotInstalled):
        ops.shop_details_fetch(shop)
    assert orders_reconcile(shop=shop) is None
    assert len(platform_http.calls) == calls_before
    store.order_place(dev_shop, customer=ada, lines=[(lamp, 1)])
    assert not DevWebhookLog.objects.filter(
        shop=dev_shop, topic="orders/paid", created_at__gt=uninstall.received_at
    ).exists()
    # the data stays until shop/redact
    assert member_of(shop, ada).balance == WELCOME + 50
    first_installed_at = shop.installed_at

    # the merchant opens Beam again: managed install reactivates the same shop
    reinstalled = install_managed(dev_shop)

    assert reinstalled.pk == shop.pk
    assert reinstalled.is_active and reinstalled.uninstalled_at is None
    assert reinstalled.installed_at > first_installed_at
    live = DevAppToken.objects.get(shop=dev_shop, revoked_at__isnull=True)
    assert reinstalled.access_token == live.access_token
    assert ops.shop_details_fetch(reinstalled).name == "Flow Store"
    checkout(dev_shop, ada, [lamp, lamp])  # 100
    member = member_of(shop, ada)
    assert member.balance == WELCOME + 50 + 100
    assert [a for _, a in ledger(member)] == [WELCOME, 50, 100]
    assert_ledger_consistent(shop)


# --- compliance requests sent by the store -----------------------------------------------------


def test_compliance_requests_from_the_store_export_redact_and_erase(dev_shop: DevShop) -> None:
    from merchants.models import ComplianceRequest

    shop = install_managed(dev_shop)
    configure_program(shop)
    ada = sign_up(dev_shop, "ada@example.com")
    grace = sign_up(dev_shop, "grace@example.com", "Grace", "Hopper")
    lamp = variant(dev_shop, "Lamp")
    order = checkout(dev_shop, ada, [lamp])  # 50
    checkout(dev_shop, grace, [lamp, lamp])  # 100

    store.compliance_customer_data_request(ada)

    export = ComplianceRequest.objects.get(shop=shop, topic="customers/data_request")
    assert export.customer_id == ada.id and export.completed_at is not None
    assert export.result["customer"]["email"] == "ada@example.com"
    assert export.result["orders_requested"] == [order.id]
    assert "ada@example.com" in str(export.result)

    store.compliance_customer_redact(ada)

    member = member_of(shop, ada)
    assert member.redacted and member.email == "" and member.first_name == ""
    assert member.balance == WELCOME + 50  # anonymous totals stay
    assert "ada@example.com" not in str(
        list(WebhookDelivery.objects.filter(shop=shop).values_list("payload", flat=True))
    )
    assert member_of(shop, grace).email == "grace@example.com"  # nobody else touched

    store.app_uninstall(DevShop.objects.get(pk=dev_shop.pk))
    store.compliance_shop_redact(DevShop.objects.get(pk=dev_shop.pk))

    assert not Member.objects.filter(shop=shop).exists()
    assert not LedgerEntry.objects.filter(shop=shop).exists()
    assert not LoyaltyOrder.objects.filter(shop=shop).exists()
    tombstone = Shop.objects.get(pk=shop.pk)
    assert not tombstone.is_active and tombstone.access_token_encrypted == ""
    assert ComplianceRequest.objects.filter(shop=shop, topic="shop/redact").exists()
    assert set(WebhookDelivery.objects.filter(shop=shop).values_list("status", flat=True)) <= {
        "succeeded"
    }
