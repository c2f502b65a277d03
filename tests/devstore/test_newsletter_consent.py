"""The devstore's email-consent button sends ``customers/update`` through the signed webhook
path; Beam gives the newsletter points once, however often the delivery is replayed."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from devstore import services as store
from devstore.models import DevWebhookLog
from loyalty.models import ActionAward, EarningAction, LedgerEntry, Member
from merchants.models import WebhookDelivery
from tests.loyalty.factories import ProgramFactory
from tests.storefront_widget.extension_helpers import devstore_with_beam

pytestmark = pytest.mark.django_db


@pytest.fixture
def env(settings, django_capture_on_commit_callbacks):
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, shop = devstore_with_beam("news.myshopify.com")
    ProgramFactory(shop=shop)
    EarningAction.objects.create(
        shop=shop, kind="newsletter", points=50, enabled=True, enabled_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        ada = store.customer_create(dev_shop, "ada@example.com", "Ada")
    return dev_shop, shop, ada


def test_subscribing_in_the_store_gives_the_newsletter_points_once(
    client, env, django_capture_on_commit_callbacks
):
    dev_shop, shop, ada = env
    url = f"/devstore/{dev_shop.domain}/customers/{ada.id}/email-consent"

    for _ in range(3):  # subscribe, unsubscribe, subscribe again
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(url).status_code == 302

    ada.refresh_from_db()
    assert ada.email_marketing_state == "subscribed"
    member = Member.objects.get(shop=shop, customer_id=ada.id)
    assert list(
        LedgerEntry.objects.filter(member=member).values_list("kind", "amount", "note")
    ) == [("action", 50, "Newsletter sign-up")]
    assert ActionAward.objects.get().key == f"newsletter:{member.pk}"
    updates = DevWebhookLog.objects.filter(topic="customers/update")
    assert updates.count() == 3
    body = json.loads(updates.order_by("pk").first().body)
    assert body["email_marketing_consent"]["state"] == "subscribed"
    assert WebhookDelivery.objects.filter(topic="customers/update").count() == 3

    page = client.get(f"/devstore/{dev_shop.domain}/customers").content.decode()
    assert "Unsubscribe" in page
