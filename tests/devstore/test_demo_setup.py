"""``make run``'s demo: ``demo_setup`` installs Beam into the simulated shops through the
real install, fills them with months of history whose webhooks reach Beam's real
endpoints, so members and points exist, and a second run changes nothing."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from devstore.models import DevCustomer, DevOrder, DevProduct, DevShop, DevWebhookLog
from loyalty.analytics.selectors import DateRange, dashboard_get
from loyalty.analytics.services import rollup_refresh, shop_zone
from loyalty.models import LedgerEntry, LoyaltyOrder, LoyaltyProgram, Member, Redemption, Reward
from loyalty.services import ledger_verify
from merchants.models import Shop, WebhookDelivery

DEMO = "demo-store.myshopify.com"


def _counts() -> dict[str, int]:
    return {
        "dev_shops": DevShop.objects.count(),
        "products": DevProduct.objects.count(),
        "customers": DevCustomer.objects.count(),
        "orders": DevOrder.objects.count(),
        "webhooks": DevWebhookLog.objects.count(),
        "shops": Shop.objects.count(),
        "members": Member.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "loyalty_orders": LoyaltyOrder.objects.count(),
        "deliveries": WebhookDelivery.objects.count(),
        "rewards": Reward.objects.count(),
        "redemptions": Redemption.objects.count(),
        "points": Member.objects.aggregate(total=Sum("balance"))["total"] or 0,
    }


@pytest.mark.django_db(transaction=True)
def test_demo_setup_installs_populates_credits_and_is_idempotent(settings) -> None:
    settings.SHOPIFY_APP_URL = "http://beam.test"
    out = StringIO()

    call_command("demo_setup", orders=25, customers=8, days=90, stdout=out)

    counts = _counts()
    # the store: two shops, 11 products + a gift card each, 8 + 5 customers, 25 + 12 orders
    # and one more order in which a member used a reward code
    assert (counts["dev_shops"], counts["products"], counts["customers"]) == (2, 24, 13)
    assert counts["orders"] == 25 + 12 + 1
    demo = DevShop.objects.get(domain=DEMO)
    assert demo.app_installed_at is not None
    assert DevOrder.objects.filter(shop=demo, customer__isnull=True).exists()
    assert not DevWebhookLog.objects.exclude(status="delivered").exists()
    # Beam: both shops installed through the real install, details pulled from the store
    beam = Shop.objects.get(domain=DEMO)
    assert beam.is_active and (beam.name, beam.currency) == ("Demo Store", "USD")
    assert Shop.objects.get(domain="other-store.myshopify.com").currency == "EUR"
    # every delivery the store sent was recorded once and processed
    assert counts["deliveries"] == DevWebhookLog.objects.count()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
    # members with welcome points (demo shop) and credited orders
    members = Member.objects.filter(shop=beam)
    assert members.count() == 8
    assert LedgerEntry.objects.filter(shop=beam, kind="welcome").count() == 8
    assert set(
        LedgerEntry.objects.filter(shop=beam, kind="welcome").values_list("amount", flat=True)
    ) == {100}
    credited = LoyaltyOrder.objects.filter(shop=beam, state="credited")
    assert credited.count() >= 10
    earned = LoyaltyOrder.objects.filter(shop=beam, points_earned__gt=0)  # some cancelled since
    assert LedgerEntry.objects.filter(shop=beam, kind="order_earn").count() == earned.count()
    assert counts["points"] > 0
    assert ledger_verify().drifts == []
    # the rewards catalogue and redemptions made through the store's Admin API
    assert Reward.objects.filter(shop=beam).count() == 3
    redemptions = Redemption.objects.filter(shop=beam).order_by("pk")
    assert redemptions.exists()
    used = redemptions.first()
    assert used.status == "used" and used.order_id is not None
    assert DevOrder.objects.get(pk=used.order_id).payload["discount_codes"][0]["code"] == (
        used.code
    )
    assert set(redemptions[1:].values_list("status", flat=True)) <= {"issued"}
    # it says where to look
    printed = out.getvalue()
    assert f"http://beam.test/devstore/{DEMO}/admin/apps/beam" in printed
    assert f"http://beam.test/devstore/{DEMO}/" in printed
    assert "members" in printed and "points" in printed

    call_command("demo_setup", orders=25, customers=8, days=90, stdout=StringIO())

    assert _counts() == counts


@pytest.mark.django_db(transaction=True)
def test_demo_history_reaches_beam_on_the_days_it_happened(settings) -> None:
    """Each seeded event reaches Beam at its own moment: members enrol on the day their
    customer was created, points are posted on the day of their order, and the dashboard
    spreads them over the past days (members at their first order are members)."""
    settings.SHOPIFY_APP_URL = "http://beam.test"

    call_command("demo_setup", orders=30, customers=8, days=60, stdout=StringIO())

    beam = Shop.objects.get(domain=DEMO)
    demo = DevShop.objects.get(domain=DEMO)
    launched = LoyaltyProgram.objects.get(shop=beam).onboarded_at
    assert launched is not None and launched < timezone.now() - timedelta(days=59)
    joined = {c.id: c.created_at for c in DevCustomer.objects.filter(shop=demo)}
    for member in Member.objects.filter(shop=beam):
        assert member.created_at == joined[member.customer_id]
    placed = {o.order_id: o.placed_at for o in LoyaltyOrder.objects.filter(shop=beam)}
    earned = LedgerEntry.objects.filter(shop=beam, kind="order_earn")
    assert earned.count() >= 10
    for entry in earned:
        # within seconds (the last order, placed live, is processed a moment later)
        assert abs(entry.created_at - placed[int(entry.source_id)]) < timedelta(minutes=1)
    rollup_refresh(shop=beam)
    today = timezone.now().astimezone(shop_zone(beam)).date()
    board = dashboard_get(shop=beam, rng=DateRange(today - timedelta(days=60), today))
    days_with_points = [p for p in board.series if p.issued]
    assert len(days_with_points) >= 10
    assert max(p.issued for p in board.series) < board.points_issued / 3
    assert board.members_enrolled == 8
    assert board.member_customers == board.customers > 0
    assert board.non_member_customers == 0
