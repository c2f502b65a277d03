"""Create and populate the demo shops, install Beam into them, and print where to look.

Idempotent: a shop that already has products, customers or orders is left as it is. Runs
while no server is listening, so platform HTTP (Beam's token exchange, the webhooks) is
served in-process."""

from __future__ import annotations

import heapq
import random
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from devstore import services
from devstore.clock import clock_at
from devstore.errors import DevstoreError
from devstore.inprocess import inprocess_platform_http
from devstore.models import DevCustomer, DevOrder, DevShop, DevVariant
from devstore.oauth import app_load_url

DEMO_SHOP = "demo-store.myshopify.com"
OTHER_SHOP = "other-store.myshopify.com"

PRODUCTS = [
    ("Aurora Desk Lamp", "49.00"),
    ("Linen Throw Blanket", "79.00"),
    ("Ceramic Pour-Over Set", "38.50"),
    ("Walnut Serving Board", "64.00"),
    ("Wool Beanie", "24.00"),
    ("Canvas Weekender Bag", "129.00"),
    ("Stoneware Mug", "18.00"),
    ("Beeswax Candle Trio", "32.00"),
    ("Trail Running Socks", "16.00"),
    ("Cast Iron Skillet", "55.00"),
    ("Botanical Print", "42.00"),
]
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Linus",
    "Radia",
    "Tim",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Torvalds",
]


def _install_beam(shop: DevShop) -> bool:
    """Install Beam the way a merchant does under managed install: load the app URL the
    admin frame loads (signed query with an ``id_token``); Beam exchanges the session token
    with the devstore. True when the devstore now holds a live token for Beam."""
    try:
        requests.get(app_load_url(shop), timeout=settings.SHOPIFY_HTTP_TIMEOUT)
    except requests.RequestException:
        return False
    shop.refresh_from_db()
    return shop.app_installed_at is not None


DEMO_WELCOME_POINTS = 100
DEMO_REWARDS = [
    # (name, kind, points cost, value)
    ("$5 off your order", "fixed_amount", 500, Decimal("5.00")),
    ("10% off your order", "percentage", 900, Decimal("10")),
    ("Free shipping", "free_shipping", 300, Decimal("0")),
]


# Ways to earn beyond orders the demo turns on: (kind, network, points, limit, link).
DEMO_ACTIONS = (
    ("birthday", "", 100, "year", ""),
    ("newsletter", "", 50, "once", ""),
    ("social_follow", "instagram", 25, "once", "https://www.instagram.com/demostore"),
    ("review", "", 50, "day", ""),
    ("review_photo", "", 25, "day", ""),
)
# The demo's custom action (fired from the devstore's Review app page) and its points.
DEMO_CUSTOM_ACTION = ("quiz-done", 40)


def _beam_program_setup(domain: str, *, launched_at: datetime) -> bool:
    """What a merchant configures on first use: welcome points, a small rewards catalogue,
    VIP tiers and a few other ways to earn (birthday, newsletter, an Instagram follow),
    launched when the demo's history starts. Only when the shop has no rewards yet, so a
    second run changes nothing the merchant edited. Returns True when it configured the
    program."""
    from devstore.services.review_app import review_app_connect
    from loyalty.forms_tiers import tier_starter
    from loyalty.models import EarningAction, LoyaltyProgram, Reward
    from loyalty.services import program_get_or_create
    from loyalty.services.inbound import api_key_create
    from loyalty.services.referrals import referral_settings_save
    from loyalty.services.tiers_recompute import tier_settings_save
    from merchants.models import Shop

    shop = Shop.objects.filter(domain=domain, uninstalled_at__isnull=True).first()
    if shop is None or Reward.objects.filter(shop=shop).exists():
        return False
    program = program_get_or_create(shop=shop)
    # The demo program is set up and live: Home shows it so, the wizard reviews it.
    LoyaltyProgram.objects.filter(pk=program.pk).update(
        welcome_points=DEMO_WELCOME_POINTS, onboarded_at=launched_at
    )
    for name, kind, cost, value in DEMO_REWARDS:
        Reward.objects.create(shop=shop, name=name, kind=kind, points_cost=cost, value=value)
    for kind, network, points, limit, url in DEMO_ACTIONS:
        EarningAction.objects.get_or_create(
            shop=shop,
            kind=kind,
            network=network,
            defaults={
                "points": points,
                "limit": limit,
                "url": url,
                "enabled": True,
                "enabled_at": launched_at,
            },
        )
    name, points = DEMO_CUSTOM_ACTION
    EarningAction.objects.get_or_create(
        shop=shop,
        kind="custom",
        name=name,
        defaults={"points": points, "limit": "day", "enabled": True, "enabled_at": launched_at},
    )
    # The store's review app holds the key the merchant created (as if pasted into it).
    dev_shop = DevShop.objects.get(domain=domain)
    review_app_connect(dev_shop, api_key_create(shop=shop, actor="demo").key)
    # Referrals on: 10 off a friend's first order over 30, 500 points to the advocate, at
    # most 5 rewarded referrals per advocate a month.
    referral_settings_save(
        shop=shop,
        actor="demo",
        data={
            "enabled": True,
            "offer_kind": "amount",
            "offer_value": Decimal("10.00"),
            "offer_minimum": Decimal("30.00"),
            "first_order_only": True,
            "reward_kind": "points",
            "reward_points": 500,
            "cap_count": 5,
            "cap_period": "month",
        },
    )
    # VIP tiers by amount spent (the admin's starter), on before the demo's orders arrive:
    # the orders move members up as they are credited.
    tier_settings_save(shop=shop, draft=tier_starter("spend"), actor="demo")
    return True


def _beam_redemptions(shop: DevShop, *, count: int = 3) -> int:
    """A few members spend points through the real saga (the code is created in this store
    through the Admin API); the first one uses the code in an order, so the dashboard has a
    used, attributed code. Only when the shop has no redemption yet."""
    from loyalty.models import Member, Redemption, Reward
    from loyalty.services import reward_redeem
    from merchants.models import Shop

    beam = Shop.objects.filter(domain=shop.domain, uninstalled_at__isnull=True).first()
    reward = Reward.objects.filter(shop=beam, kind="fixed_amount").order_by("pk").first()
    if beam is None or reward is None or Redemption.objects.filter(shop=beam).exists():
        return 0
    cost = reward.points_cost or 0
    members = Member.objects.filter(shop=beam, balance__gte=cost).order_by("-balance", "pk")
    made = 0
    for member in members[:count]:
        redemption = reward_redeem(
            shop=beam, member_id=member.pk, reward_id=reward.pk, client_key=f"demo-{member.pk}"
        )
        if redemption.status != "issued":
            continue
        made += 1
        if made == 1:
            customer = DevCustomer.objects.filter(shop=shop, id=member.customer_id).first()
            variant = (
                DevVariant.objects.filter(product__shop=shop, product__gift_card=False)
                .order_by("-price")
                .first()
            )
            if customer is not None and variant is not None:
                services.order_place(
                    shop,
                    customer=customer,
                    lines=[(variant, 1)],
                    discount_code=redemption.code,
                    shipping=Decimal("5.00"),
                    tax_rate=Decimal("0.08"),
                )
    return made


def _demo_order(
    shop: DevShop,
    rng: random.Random,
    people: list[DevCustomer],
    variants: list[DevVariant],
    regular: list[DevVariant],
    index: int,
    moment: datetime,
) -> DevOrder:
    """One checkout at ``moment``: a customer who already exists then, or a guest."""
    eligible = [c for c in people if c.created_at <= moment]
    guest = not eligible or rng.random() < 0.15
    customer = None if guest else rng.choice(eligible)
    lines = [(v, rng.randint(1, 2)) for v in rng.sample(regular, rng.randint(1, 3))]
    if rng.random() < 0.05:
        lines.append((next(v for v in variants if v.product.gift_card), 1))
    return services.order_place(
        shop,
        customer=customer,
        email=None if customer else f"guest{index}@example.com",
        lines=lines,
        shipping=Decimal("5.00") if rng.random() < 0.6 else Decimal("0"),
        tax_rate=Decimal("0.08"),
        at=moment,
    )


def _demo_follow_up(order: DevOrder, roll: float, moment: datetime) -> None:
    """What happens to an order a few days later: cancelled, partly refunded or fulfilled."""
    try:
        if roll < 0.06:
            services.order_cancel(order, at=moment)
        elif roll < 0.14:
            first_line = order.payload["line_items"][0]
            services.order_refund(order, [(first_line["id"], 1)], note="Damaged", at=moment)
        elif roll < 0.7:
            services.order_fulfill(order, at=moment)
    except DevstoreError:
        pass


def _populate(
    shop: DevShop, *, customers: int, orders: int, days: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    now = timezone.now()
    start = now - timedelta(days=days)
    created: dict[str, Any] = {"products": 0, "customers": 0, "orders": 0}
    if not DevVariant.objects.filter(product__shop=shop).exists():
        for title, price in PRODUCTS:
            services.product_create(shop, title, Decimal(price), sku=title[:3].upper())
        services.product_create(shop, "Gift Card", Decimal("50.00"), gift_card=True)
        created["products"] = len(PRODUCTS) + 1
    if not DevCustomer.objects.filter(shop=shop).exists():
        for n in range(customers):
            first, last = FIRST[n % len(FIRST)], LAST[(n * 7) % len(LAST)]
            joined = start + timedelta(days=rng.uniform(0, days / 2))
            with clock_at(joined):  # Beam enrols the member on that day, not today
                services.customer_create(
                    shop, f"{first.lower()}.{last.lower()}{n}@example.com", first, last, at=joined
                )
        created["customers"] = customers
    if not shop.orders.exists():
        variants = list(DevVariant.objects.filter(product__shop=shop).select_related("product"))
        regular = [v for v in variants if not v.product.gift_card]
        people = list(DevCustomer.objects.filter(shop=shop))
        moments = sorted(
            start + timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(orders)
        )
        # Every event (a placement, then its cancellation, refund or fulfilment) runs in
        # time order at its own moment, so Beam posts each one's points on its day.
        events: list[tuple[datetime, int, DevOrder | None]] = [
            (min(moment, now - timedelta(minutes=5)), index, None)
            for index, moment in enumerate(moments)
        ]
        heapq.heapify(events)
        while events:
            moment, index, placed = heapq.heappop(events)
            with clock_at(moment):
                if placed is None:
                    order = _demo_order(shop, rng, people, variants, regular, index, moment)
                    later = min(moment + timedelta(days=rng.uniform(1, 5)), now)
                    heapq.heappush(events, (later, index, order))
                else:
                    _demo_follow_up(placed, rng.random(), moment)
        created["orders"] = orders
    return created


def _beam_points_summary(domain: str) -> dict[str, int]:
    from django.db.models import Sum

    from loyalty.models import LoyaltyOrder, Member

    members = Member.objects.filter(shop__domain=domain)
    return {
        "members": members.count(),
        "credited": LoyaltyOrder.objects.filter(shop__domain=domain, state="credited").count(),
        "points": members.aggregate(total=Sum("balance"))["total"] or 0,
    }


class Command(BaseCommand):
    help = "Create the demo shops, install Beam into them and fill them with history."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--orders", type=int, default=300)
        parser.add_argument("--customers", type=int, default=40)
        parser.add_argument("--days", type=int, default=120)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        with inprocess_platform_http():
            demo = services.shop_create(
                DEMO_SHOP,
                name="Demo Store",
                email="owner@demo-store.example",
                currency="USD",
                iana_timezone="America/New_York",
                plan="Basic",
            )
            other = services.shop_create(
                OTHER_SHOP,
                name="Other Store",
                email="owner@other-store.example",
                currency="EUR",
                iana_timezone="Europe/Paris",
                plan="Basic",
            )
            for shop in (demo, other):
                if shop.app_installed_at is None and not _install_beam(shop):
                    self.stderr.write(
                        self.style.WARNING(
                            f"Beam did not install into {shop.domain}: open its admin page "
                            "once the server runs; webhooks are sent only to installed shops."
                        )
                    )
            configured = _beam_program_setup(
                DEMO_SHOP, launched_at=timezone.now() - timedelta(days=options["days"])
            )
            counts = _populate(
                demo,
                customers=options["customers"],
                orders=options["orders"],
                days=options["days"],
                seed=7,
            )
            other_counts = _populate(other, customers=5, orders=12, days=30, seed=11)
            redeemed = _beam_redemptions(DevShop.objects.get(domain=DEMO_SHOP))
        points = _beam_points_summary(DEMO_SHOP)
        base = settings.SHOPIFY_APP_URL
        self.stdout.write(
            self.style.SUCCESS(
                f"Devstore ready in {time.monotonic() - started:.1f}s "
                f"(created {counts} in {DEMO_SHOP}, {other_counts} in {OTHER_SHOP})."
            )
        )
        if configured:
            self.stdout.write(
                f"Beam program configured: {DEMO_WELCOME_POINTS} welcome points, "
                f"{len(DEMO_REWARDS)} rewards; {redeemed} rewards redeemed."
            )
        self.stdout.write(
            f"Beam in {DEMO_SHOP}: {points['members']} members, {points['credited']} orders "
            f"credited, {points['points']} points in balances."
        )
        self.stdout.write(f"  Beam in the store admin: {base}/devstore/{DEMO_SHOP}/admin/apps/beam")
        self.stdout.write(f"  Storefront:              {base}/devstore/{DEMO_SHOP}/")
        self.stdout.write(f"  All simulated shops:     {base}/devstore/")
