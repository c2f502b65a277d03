"""The extension API (/ext/): token verification, CORS, rate limits, the cart estimate (equal
to what the devstore order later credits), redemption from checkout and its release, the
thank-you page's order points, and the customer-account history."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

from devstore import services as store
from devstore.models import DevDiscountCode
from devstore.webhooks import webhook_outbox
from loyalty.models import LedgerEntry, LoyaltyOrder, Member, Redemption
from loyalty.services import points_adjust, product_tags_record, redemptions_expire_due
from tests.loyalty.factories import BonusEventFactory, ProgramFactory, RewardFactory
from tests.storefront_widget.extension_helpers import bearer, devstore_with_beam, ext_post

pytestmark = pytest.mark.django_db

SUMMARY = "/ext/checkout/summary"


@pytest.fixture
def env(settings):
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, shop = devstore_with_beam()
    ProgramFactory(shop=shop, points_per_currency_unit=Decimal("1"))
    return dev_shop, shop


@pytest.fixture
def dev_shop(env):
    return env[0]


@pytest.fixture
def shop(env):
    return env[1]


@pytest.fixture
def ada(dev_shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")


@pytest.fixture
def member(shop, ada) -> Member:
    member = Member.objects.get(shop=shop, customer_id=ada.id)
    points_adjust(
        shop=shop, member=member, amount=1200, reason="seed", actor="test", idempotency_key="seed"
    )
    member.refresh_from_db()
    return member


@pytest.fixture
def reward(shop):
    return RewardFactory(shop=shop, name="$5 off", points_cost=500, value=Decimal("5.00"))


@pytest.fixture
def post(transactional_db, client):
    """POST to /ext/ with real commits, so the redemption saga's second step (the eager
    ``redemption_issue`` task, run on commit) finishes inside the request, as in the demo."""

    def run(path: str, body: dict, headers: dict[str, str]):
        return ext_post(client, path, body, headers)

    return run


def summary_body(*lines: tuple[int | None, int, str, str], order_discount: str = "0") -> dict:
    return {
        "lines": [
            {
                "product_id": f"gid://shopify/Product/{pid}" if pid else "",
                "quantity": q,
                "total": total,
                "discount": disc,
            }
            for pid, q, total, disc in lines
        ],
        "order_discount": order_discount,
        "currency": "USD",
    }


# --- token verification ---------------------------------------------------------------------


def test_no_token_is_401_with_reason_and_cors(client, shop):
    response = ext_post(client, "checkout/summary", summary_body(), {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_session_token"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["X-Shopify-Retry-Invalid-Session-Request"] == "1"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"aud": "another-app"}, "another app"),
        ({"dest": "evil.example.com"}, "not a valid shop domain"),
        ({"sub": "gid://shopify/StaffMember/1"}, "not a customer GID"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(client, shop, ada, overrides, reason):
    response = ext_post(
        client, "checkout/summary", summary_body(), bearer(shop.domain, ada.id, **overrides)
    )
    assert response.status_code == 401
    assert reason in response.json()["error"]["message"]


def test_token_signed_with_another_secret_is_refused(client, shop, ada):
    import jwt

    token = jwt.encode(
        {"dest": shop.domain, "aud": "beam-test-api-key", "exp": int(time.time()) + 60},
        "not-the-secret",
        algorithm="HS256",
    )
    response = ext_post(
        client, "checkout/summary", summary_body(), {"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert "signature" in response.json()["error"]["message"]


def test_token_for_a_shop_without_beam_is_403(client, shop, ada):
    response = ext_post(
        client, "checkout/summary", summary_body(), bearer("other-shop.myshopify.com", ada.id)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "shop_not_installed"


def test_token_of_shop_a_never_reads_shop_b(client, shop, member, reward):
    _dev_b, shop_b = devstore_with_beam("ext-other.myshopify.com")
    response = ext_post(
        client, "checkout/summary", summary_body(), bearer(shop_b.domain, member.customer_id)
    )
    assert response.status_code == 200
    assert response.json()["customer"] == {"balance": 0, "pending": 0, "lifetime_earned": 0}
    assert response.json()["rewards"] == []


def test_logged_out_buyer_gets_estimate_and_a_guest_answer(client, shop, reward):
    response = ext_post(
        client, "checkout/summary", summary_body((None, 1, "30.00", "0")), bearer(shop.domain, None)
    )
    assert response.status_code == 200
    assert response.json() == {
        "earn": {"points": 30, "multiplier": "1", "base": "30.00"},
        "customer": None,
        "rewards": [],
        "tier": None,  # a guest has no tier progress, tiers on or off
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/ext/customer"),
        ("get", "/ext/customer/history"),
        ("get", "/ext/orders/points?order_id=1"),
        ("post", "/ext/redemptions"),
    ],
)
def test_logged_out_buyer_cannot_use_customer_endpoints(client, shop, method, path):
    response = getattr(client, method)(
        path, content_type="application/json", headers=bearer(shop.domain, None)
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "customer_login_required"
    assert "X-Shopify-Retry-Invalid-Session-Request" not in response


# --- CORS and rate limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/ext/checkout/summary", "/ext/redemptions", "/ext/orders/points", "/ext/nothing"]
)
def test_preflight_is_answered_without_a_token(client, path):
    response = client.options(
        path,
        headers={
            "Origin": "null",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_unknown_path_is_the_api_json_404_with_cors(shop, member, method):
    """Even a POST without a CSRF token: the extension's worker never has one."""
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)(
        "/ext/no/such/thing", headers=bearer(shop.domain, member.customer_id)
    )

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such endpoint."}}
    assert response["Access-Control-Allow-Origin"] == "*"


def test_reads_are_rate_limited_per_customer(client, shop, member, settings):
    settings.STOREFRONT_RATE_LIMITS = {"ext_read": (3, 3600)}
    headers = bearer(shop.domain, member.customer_id)
    codes = [client.get("/ext/customer", headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/ext/customer", headers=headers)
    assert limited.json()["error"]["code"] == "throttled"
    assert int(limited["Retry-After"]) > 0
    assert limited["Access-Control-Allow-Origin"] == "*"
    # another customer has their own allowance
    other = Member.objects.create(shop=shop, customer_id=999)
    assert (
        client.get("/ext/customer", headers=bearer(shop.domain, other.customer_id)).status_code
        == 200
    )


def test_redeem_is_rate_limited_more_tightly(client, post, shop, member, reward, settings):
    settings.STOREFRONT_RATE_LIMITS = {"ext_redeem": (1, 3600)}
    headers = bearer(shop.domain, member.customer_id)
    first = post("redemptions", {"reward_id": reward.pk, "client_key": "a"}, headers)
    second = post("redemptions", {"reward_id": reward.pk, "client_key": "b"}, headers)
    assert (first.status_code, second.status_code) == (201, 429)
    assert Redemption.objects.count() == 1


def test_redeem_limit_is_exact_under_concurrency(monkeypatch):
    """32 buyers' requests at once (each cache read slowed like a network round trip) get
    exactly the limit through: the count is one atomic increment, not read-then-write."""
    from django.core.cache import caches

    from merchants.models import Shop
    from storefront_widget import rate_limits
    from storefront_widget.extension_api.auth import ExtensionBuyer, RedeemThrottle

    backend = type(caches["default"])
    cache_get = backend.get

    def slow_get(self, *args, **kwargs):
        value = cache_get(self, *args, **kwargs)
        time.sleep(0.005)  # the answer's way back over the network
        return value

    monkeypatch.setattr(backend, "get", slow_get)
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: 1_000_020.0))
    buyer = ExtensionBuyer(shop=Shop(pk=987_654), claims=None, customer_id=42)
    request = SimpleNamespace(user=buyer, META={"REMOTE_ADDR": "203.0.113.7"})
    start = threading.Barrier(32)

    def attempt(_: int) -> bool:
        start.wait()
        return RedeemThrottle().allow_request(request, None)

    with ThreadPoolExecutor(max_workers=32) as pool:
        allowed = list(pool.map(attempt, range(32)))

    assert allowed.count(True) == 10


# --- the estimate is what the order credits ---------------------------------------------------


def test_estimate_equals_points_credited_by_the_devstore_order(
    client, dev_shop, shop, ada, member, django_capture_on_commit_callbacks
):
    """Bonus event on tagged products, an excluded product, a percentage code: the estimate
    from the checkout's lines equals what the signed orders/paid webhook credits."""
    program = shop.loyalty_program
    program.points_per_currency_unit = Decimal("1.5")
    program.save()
    mug = store.product_create(dev_shop, "Mug", Decimal("18.99"), tags=["double"])
    tee = store.product_create(dev_shop, "Tee", Decimal("25.00"))
    card = store.product_create(dev_shop, "Gift card", Decimal("10.00"), gift_card=True)
    product_tags_record(shop=shop, product_id=mug.id, tags=["double"])
    BonusEventFactory(shop=shop, multiplier=Decimal("3"), product_tags=["double"])
    BonusEventFactory(shop=shop, multiplier=Decimal("2"))
    lines = [(mug.variants.get(), 2), (tee.variants.get(), 1), (card.variants.get(), 1)]
    preview = store.discount_code_preview(
        dev_shop, code=_percent_code(dev_shop), customer=ada, lines=lines, shipping=Decimal("5")
    )
    body = {
        "lines": [
            {
                "product_id": f"gid://shopify/Product/{v.product.id}",
                "quantity": q,
                "total": str(v.price * q),
                "discount": str(preview["lines"].get(v.id, Decimal(0))),
                "gift_card": v.product.gift_card,
            }
            for v, q in lines
        ],
        "currency": "USD",
    }
    estimate = ext_post(client, "checkout/summary", body, bearer(shop.domain, ada.id)).json()
    with django_capture_on_commit_callbacks(execute=True), webhook_outbox():
        order = store.order_place(
            dev_shop,
            customer=ada,
            lines=lines,
            discount_code=preview["code"],
            shipping=Decimal("5"),
        )
    credited = LoyaltyOrder.objects.get(shop=shop, order_id=order.id)
    assert credited.state == LoyaltyOrder.State.CREDITED
    # mug 37.98 - 3.80 = 34.18 x3; tee 25.00 - 2.50 = 22.50 x2 → 147.54 x 1.5 = 221.31 → 221
    assert credited.points_earned == 221
    assert estimate["earn"] == {"points": 221, "multiplier": "3", "base": "56.68"}


def _percent_code(dev_shop) -> str:
    store.discount_code_create(
        dev_shop,
        code="TENOFF",
        value_type=DevDiscountCode.ValueType.PERCENTAGE,
        value=Decimal("0.1"),
        starts_at=timezone.now() - timezone.timedelta(hours=1),
    )
    return "TENOFF"


def test_estimate_spreads_an_order_level_discount_like_the_store(client, shop, member):
    body = summary_body((11, 1, "30.00", "0"), (12, 1, "10.00", "0"), order_discount="4.00")
    response = ext_post(client, "checkout/summary", body, bearer(shop.domain, member.customer_id))
    assert response.json()["earn"]["base"] == "36.00"
    assert response.json()["earn"]["points"] == 36


# --- redeem, release, expiry ------------------------------------------------------------------


def test_redeem_creates_a_checkout_code_idempotently(client, post, dev_shop, shop, member, reward):
    headers = bearer(shop.domain, member.customer_id)
    body = {"reward_id": reward.pk, "client_key": "checkout-abc"}
    first = post("redemptions", body, headers)
    again = post("redemptions", body, headers)
    assert first.status_code == 201 and again.status_code == 201
    assert first.json() == again.json()
    payload = first.json()
    assert payload["balance"] == 700
    assert payload["redemption"]["status"] == "issued"
    code = payload["redemption"]["code"]
    redemption = Redemption.objects.get()
    assert redemption.channel == Redemption.Channel.CHECKOUT
    # a checkout code lives a day, not the reward's 30 days
    assert timezone.timedelta(hours=23) < redemption.expires_at - redemption.created_at
    assert redemption.expires_at - redemption.created_at <= timezone.timedelta(hours=24)
    dev_code = DevDiscountCode.objects.get(shop=dev_shop, code_key=code)
    assert dev_code.customer_ids == [member.customer_id] and dev_code.usage_limit == 1


def test_redeem_refuses_a_customer_id_in_the_body(client, post, shop, member, reward):
    other = Member.objects.create(shop=shop, customer_id=4242, balance=0)
    response = post(
        "redemptions",
        {"reward_id": reward.pk, "client_key": "x", "customer_id": other.customer_id},
        bearer(shop.domain, member.customer_id),
    )
    assert response.status_code == 400
    assert Redemption.objects.count() == 0
    member.refresh_from_db()
    assert member.balance == 1200


def test_redeem_without_enough_points_changes_nothing(client, post, shop, member):
    big = RewardFactory(shop=shop, name="Big", points_cost=5000, value=Decimal("50"))
    response = post(
        "redemptions",
        {"reward_id": big.pk, "client_key": "x"},
        bearer(shop.domain, member.customer_id),
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_points"
    member.refresh_from_db()
    assert member.balance == 1200 and Redemption.objects.count() == 0


def test_checkout_lists_affordable_rewards(client, shop, member, reward):
    RewardFactory(shop=shop, name="$50 off", points_cost=5000, value=Decimal("50"))
    RewardFactory(
        shop=shop, name="Credit", kind="store_credit", points_cost=100, value=Decimal("1")
    )
    RewardFactory(
        shop=shop,
        name="Slider",
        kind="variable",
        points_cost=None,
        points_per_unit=100,
        value_per_unit=Decimal("1"),
        min_points=200,
        max_points=1000,
    )
    response = ext_post(
        client, "checkout/summary", summary_body(), bearer(shop.domain, member.customer_id)
    )
    rewards = {r["name"]: r for r in response.json()["rewards"]}
    assert set(rewards) == {"$5 off", "$50 off", "Slider"}  # no store credit in checkout
    assert rewards["$5 off"]["affordable"] and not rewards["$50 off"]["affordable"]
    assert rewards["Slider"]["variable_points"] == 1000 and rewards["Slider"]["value"] == "10.00"


def test_release_returns_the_points_and_deactivates_the_code(
    client, post, dev_shop, shop, member, reward
):
    headers = bearer(shop.domain, member.customer_id)
    created = post("redemptions", {"reward_id": reward.pk, "client_key": "k"}, headers)
    rid = created.json()["redemption"]["id"]
    released = post(f"redemptions/{rid}/release", {}, headers)
    assert released.status_code == 200
    assert released.json()["balance"] == 1200
    assert released.json()["redemption"]["status"] == "cancelled"
    code = DevDiscountCode.objects.get(shop=dev_shop, code_key=created.json()["redemption"]["code"])
    assert code.status == DevDiscountCode.Status.DEACTIVATED
    # releasing twice gives nothing more back
    assert post(f"redemptions/{rid}/release", {}, headers).json()["balance"] == 1200
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM_REFUND).count() == 1


def test_another_customer_cannot_release_or_read_a_redemption(client, post, shop, member, reward):
    created = post(
        "redemptions",
        {"reward_id": reward.pk, "client_key": "k"},
        bearer(shop.domain, member.customer_id),
    )
    rid = created.json()["redemption"]["id"]
    intruder = bearer(shop.domain, member.customer_id + 1)
    Member.objects.create(shop=shop, customer_id=member.customer_id + 1)
    assert post(f"redemptions/{rid}/release", {}, intruder).status_code == 404
    assert client.get(f"/ext/redemptions/{rid}", headers=intruder).status_code == 404
    assert Redemption.objects.get().status == Redemption.Status.ISSUED


def test_unused_checkout_code_comes_back_as_points(client, post, shop, member, reward):
    headers = bearer(shop.domain, member.customer_id)
    post("redemptions", {"reward_id": reward.pk, "client_key": "k"}, headers)
    assert redemptions_expire_due(now=timezone.now() + timezone.timedelta(hours=2)) == 0
    assert redemptions_expire_due(now=timezone.now() + timezone.timedelta(hours=25)) == 1
    member.refresh_from_db()
    assert member.balance == 1200
    assert Redemption.objects.get().status == Redemption.Status.EXPIRED


# --- order points (thank-you) and history -----------------------------------------------------


def test_order_points_for_own_order_only(
    client, dev_shop, shop, ada, member, django_capture_on_commit_callbacks
):
    mug = store.product_create(dev_shop, "Mug", Decimal("40.00"))
    with django_capture_on_commit_callbacks(execute=True), webhook_outbox():
        order = store.order_place(dev_shop, customer=ada, lines=[(mug.variants.get(), 1)])
    gid = f"gid://shopify/OrderIdentity/{order.id}"
    mine = client.get("/ext/orders/points", {"order_id": gid}, headers=bearer(shop.domain, ada.id))
    assert mine.status_code == 200
    assert mine.json()["order"]["status"] == "credited"
    assert mine.json()["order"]["points"] == 40
    assert mine.json()["customer"]["balance"] == 1240
    with django_capture_on_commit_callbacks(execute=True):
        bob = store.customer_create(dev_shop, "bob@example.com", "Bob")
    theirs = client.get(
        "/ext/orders/points", {"order_id": gid}, headers=bearer(shop.domain, bob.id)
    )
    unknown = client.get(
        "/ext/orders/points",
        {"order_id": "gid://shopify/Order/1"},
        headers=bearer(shop.domain, bob.id),
    )
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()


def test_pending_period_shows_pending(
    client, dev_shop, shop, ada, member, django_capture_on_commit_callbacks
):
    program = shop.loyalty_program
    program.pending_days = 14
    program.save()
    mug = store.product_create(dev_shop, "Mug", Decimal("40.00"))
    with django_capture_on_commit_callbacks(execute=True), webhook_outbox():
        order = store.order_place(dev_shop, customer=ada, lines=[(mug.variants.get(), 1)])
    body = client.get(
        "/ext/orders/points", {"order_id": str(order.id)}, headers=bearer(shop.domain, ada.id)
    ).json()
    assert body["order"]["status"] == "pending" and body["order"]["pending_points"] == 40
    assert body["customer"]["pending"] == 40 and body["customer"]["balance"] == 1200


def test_customer_history_and_catalogue(client, post, shop, member, reward):
    headers = bearer(shop.domain, member.customer_id)
    post(
        "redemptions",
        {"reward_id": reward.pk, "client_key": "acct", "channel": "customer_account"},
        headers,
    )
    history = client.get("/ext/customer/history", headers=headers).json()
    assert history["customer"]["balance"] == 700
    assert [(e["amount"], e["kind"]) for e in history["entries"]] == [
        (-500, "redeem"),
        (1200, LedgerEntry.objects.order_by("pk").first().kind),
    ]
    assert history["redemptions"][0]["channel"] == "customer_account"
    catalogue = client.get("/ext/customer", headers=headers).json()
    assert catalogue["rewards"][0]["name"] == "$5 off" and catalogue["rewards"][0]["affordable"]


# --- a reward code removed from the checkout ---------------------------------------------------


def _redeem(post, headers, reward, key="k") -> dict:
    created = post("redemptions", {"reward_id": reward.pk, "client_key": key}, headers)
    assert created.status_code == 201
    return created.json()["redemption"]


def test_a_removed_code_returns_the_points_at_once_and_deactivates_it(
    post, dev_shop, shop, member, reward
):
    headers = bearer(shop.domain, member.customer_id)
    redemption = _redeem(post, headers, reward)

    response = post("redemptions/cancel", {"code": redemption["code"]}, headers)

    assert response.status_code == 200
    assert response.json()["balance"] == 1200
    assert response.json()["redemption"]["status"] == "cancelled"
    assert response["Access-Control-Allow-Origin"] == "*"
    dev_code = DevDiscountCode.objects.get(shop=dev_shop, code_key=redemption["code"])
    assert dev_code.status == DevDiscountCode.Status.DEACTIVATED
    refund = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REDEEM_REFUND)
    assert refund.amount == 500 and refund.actor == "checkout-extension"


def test_cancelling_a_removed_code_twice_gives_the_points_back_once(post, shop, member, reward):
    headers = bearer(shop.domain, member.customer_id)
    code = _redeem(post, headers, reward)["code"]

    first = post("redemptions/cancel", {"code": code}, headers)
    again = post("redemptions/cancel", {"code": code.lower()}, headers)

    assert first.status_code == again.status_code == 200
    assert again.json()["balance"] == 1200
    assert again.json()["redemption"]["status"] == "cancelled"
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM_REFUND).count() == 1


def test_an_expired_code_removed_later_changes_nothing(post, shop, member, reward):
    headers = bearer(shop.domain, member.customer_id)
    code = _redeem(post, headers, reward)["code"]
    redemptions_expire_due(now=timezone.now() + timezone.timedelta(days=2))

    response = post("redemptions/cancel", {"code": code}, headers)

    assert response.status_code == 200
    assert response.json()["redemption"]["status"] == "expired"
    assert response.json()["balance"] == 1200
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM_REFUND).count() == 1


def test_a_used_code_cannot_be_cancelled_and_nothing_changes(post, dev_shop, shop, member, reward):
    headers = bearer(shop.domain, member.customer_id)
    code = _redeem(post, headers, reward)["code"]
    DevDiscountCode.objects.filter(shop=dev_shop, code_key=code).update(usage_count=1)

    response = post("redemptions/cancel", {"code": code}, headers)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "redemption_not_cancellable"
    member.refresh_from_db()
    assert member.balance == 700
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM_REFUND).exists()


def test_only_the_codes_owner_with_a_valid_token_can_cancel_it(client, post, shop, member, reward):
    code = _redeem(post, bearer(shop.domain, member.customer_id), reward)["code"]
    Member.objects.create(shop=shop, customer_id=member.customer_id + 1)

    intruder = post(
        "redemptions/cancel", {"code": code}, bearer(shop.domain, member.customer_id + 1)
    )
    guest = post("redemptions/cancel", {"code": code}, bearer(shop.domain, None))
    no_token = post("redemptions/cancel", {"code": code}, {})
    forged = post(
        "redemptions/cancel",
        {"code": code, "customer_id": member.customer_id},
        bearer(shop.domain, member.customer_id + 1),
    )

    assert intruder.status_code == 404
    assert guest.status_code == 401
    assert no_token.status_code == 401
    assert forged.status_code == 400
    member.refresh_from_db()
    assert member.balance == 700
    assert Redemption.objects.get().status == Redemption.Status.ISSUED


def test_a_storefront_code_is_not_cancelled_by_the_checkout(post, shop, member, reward):
    from loyalty.services import customer_reward_redeem

    redemption = customer_reward_redeem(
        shop=shop,
        customer_id=member.customer_id,
        reward_id=reward.pk,
        points=None,
        client_key="panel",
        channel=Redemption.Channel.STOREFRONT,
    )
    redemption.refresh_from_db()

    response = post(
        "redemptions/cancel", {"code": redemption.code}, bearer(shop.domain, member.customer_id)
    )

    assert response.status_code == 409
    member.refresh_from_db()
    assert member.balance == 700
