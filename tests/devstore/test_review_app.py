"""End to end through the devstore: the simulated review app, connected with the key the
merchant created in Beam, posts signed review webhooks (Beam awards the review and the
photo bonus; a delete reverses both once) and fires custom actions (a replayed key is
awarded once)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from devstore import services as store
from devstore.models import DevReview
from loyalty.models import ActionAward, EarningAction, LedgerEntry, Member
from loyalty.services.inbound import api_key_create
from merchants.models import WebhookDelivery
from tests.loyalty.factories import ProgramFactory
from tests.storefront_widget.extension_helpers import devstore_with_beam

pytestmark = pytest.mark.django_db


@pytest.fixture
def env(settings, client, django_capture_on_commit_callbacks):
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, shop = devstore_with_beam("reviewing.myshopify.com")
    ProgramFactory(shop=shop)
    for kind, points, name in (
        ("review", 50, ""),
        ("review_photo", 20, ""),
        ("custom", 30, "quiz"),
    ):
        EarningAction.objects.create(
            shop=shop,
            kind=kind,
            name=name,
            points=points,
            limit="day",
            enabled=True,
            enabled_at=timezone.now(),
        )
    with django_capture_on_commit_callbacks(execute=True):
        ada = store.customer_create(dev_shop, "ada@example.com", "Ada")
    product = store.product_create(dev_shop, "Snowboard", Decimal("100.00"))
    key = api_key_create(shop=shop, actor="merchant").key
    page = f"/devstore/{dev_shop.domain}/apps/reviews"
    assert client.post(page, {"do": "connect", "api_key": key}).status_code == 302
    return dev_shop, shop, ada, product, page


def entries(member: Member) -> list[tuple[str, int, str]]:
    return list(
        LedgerEntry.objects.filter(member=member)
        .order_by("pk")
        .values_list("kind", "amount", "note")
    )


def test_a_review_from_the_review_app_earns_and_its_deletion_reverses(
    client, env, django_capture_on_commit_callbacks
):
    _, shop, ada, product, page = env
    member = Member.objects.get(shop=shop, customer_id=ada.id)
    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(
            page,
            {
                "do": "review",
                "customer": ada.id,
                "product": product.id,
                "rating": "5",
                "has_photo": "on",
            },
        )
    assert posted.status_code == 302
    review = DevReview.objects.get()
    assert review.last_response == "HTTP 202: accepted"
    assert entries(member) == [("action", 50, "Product review"), ("action", 20, "Review photo")]

    for _ in range(2):  # deleting twice (a retry) reverses once
        with django_capture_on_commit_callbacks(execute=True):
            client.post(page, {"do": "delete", "review": review.id})
    member.refresh_from_db()
    assert member.balance == 0
    assert [e[0] for e in entries(member)] == [
        "action",
        "action",
        "action_reversal",
        "action_reversal",
    ]
    assert WebhookDelivery.objects.filter(topic="beam/review").count() == 2  # created, deleted
    html = client.get(page).content.decode()
    assert review.review_id in html and "deleted" in html


def test_a_replayed_custom_action_from_the_devstore_is_awarded_once(client, env):
    _, shop, ada, _, page = env
    member = Member.objects.get(shop=shop, customer_id=ada.id)
    for _ in range(2):
        client.post(
            page, {"do": "action", "action": "quiz", "customer": ada.id, "idempotency_key": "k-1"}
        )
    assert entries(member) == [("action", 30, "quiz")]
    assert ActionAward.objects.get().key == "custom:quiz:k-1"
    messages = [m.message for m in client.get(page).context["messages"]]
    assert "HTTP 201: awarded" in messages[-2] and "HTTP 200: replayed" in messages[-1]


def test_the_review_app_needs_the_key_first(client, settings):
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, _ = devstore_with_beam("unconnected.myshopify.com")
    ada = store.customer_create(dev_shop, "bo@example.com", "Bo")
    page = f"/devstore/{dev_shop.domain}/apps/reviews"
    response = client.post(
        page, {"do": "action", "action": "quiz", "customer": ada.id}, follow=True
    )
    assert "Connect the review app first" in response.content.decode()
    assert ActionAward.objects.count() == 0
