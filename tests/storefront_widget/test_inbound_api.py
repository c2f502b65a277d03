"""Beam's inbound API through HTTP: the shop's key signs review webhooks and custom-action
calls; bad signatures and bodies are refused with a reason and write nothing; reviews earn
once per review id (photo bonus, reversed on delete); custom actions once per key."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from loyalty.models import ActionAward, AuditEvent, EarningAction, LedgerEntry, Member
from loyalty.rules.earning_actions import period_key
from loyalty.services.earning_actions import shop_today
from merchants.inbound_keys import ROTATION_GRACE, url_token
from merchants.models import Shop, ShopApiKey, WebhookDelivery
from tests.loyalty.factories import MemberFactory, ProgramFactory, ShopFactory
from tests.storefront_widget.inbound_helpers import key_for, review, sign, signed_post

pytestmark = pytest.mark.django_db


def installed_shop(domain: str) -> Shop:
    shop = ShopFactory(domain=domain)
    shop.access_token = "shpat-test"
    shop.save()
    ProgramFactory(shop=shop)
    return shop


def action_on(shop: Shop, kind: str, points: int, **kw: Any) -> EarningAction:
    return EarningAction.objects.create(
        shop=shop, kind=kind, points=points, enabled=True, enabled_at=timezone.now(), **kw
    )


@pytest.fixture
def api(client, django_capture_on_commit_callbacks):
    """``signed_post`` with the after-commit work run (the inbox's processing)."""

    def post(*args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return signed_post(client, *args, **kwargs)

    return post


@pytest.fixture
def shop() -> Shop:
    shop = installed_shop("reviews.myshopify.com")
    action_on(shop, "review", 50, limit="day")
    action_on(shop, "review_photo", 20, limit="day")
    action_on(shop, "custom", 30, name="quiz-done", limit="day")
    return shop


@pytest.fixture
def key(shop: Shop) -> str:
    return key_for(shop)


@pytest.fixture
def ada(shop: Shop) -> Member:
    return MemberFactory(shop=shop, customer_id=501, email="ada@example.com")


def ledger(member: Member) -> list[tuple[str, int, str]]:
    return list(
        LedgerEntry.objects.filter(member=member)
        .order_by("pk")
        .values_list("kind", "amount", "note")
    )


def nothing_written() -> None:
    assert WebhookDelivery.objects.count() == 0
    assert ActionAward.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- the key ---------------------------------------------------------------------------------


def test_the_key_is_stored_encrypted_and_its_creation_audited(shop, key):
    row = ShopApiKey.objects.get(shop=shop)
    assert key.startswith("beam_sk_") and len(key) > 40
    assert key not in row.key_encrypted
    assert row.hint == key[-4:]
    event = AuditEvent.objects.get(shop=shop, action="api_key.create")
    assert key not in event.summary and row.hint in event.summary


@pytest.mark.parametrize(
    ("headers", "code", "reason"),
    [
        ({}, "invalid_signature", "missing"),
        ({"X-Beam-Hmac-Sha256": "AAAA"}, "invalid_signature", "does not match"),
    ],
)
def test_a_missing_or_wrong_signature_is_401_with_the_reason(
    api, client, shop, key, ada, headers, code, reason
):
    body = json.dumps(review(customer_id=501)).encode()
    response = client.post(
        "/api/v1/reviews/",
        data=body,
        content_type="application/json",
        headers={"X-Beam-Shop-Domain": shop.domain, **headers},
    )
    assert error_of(response) == (401, code)
    assert reason in response.json()["error"]["message"]
    nothing_written()


def test_a_body_changed_after_signing_is_refused(api, client, shop, key, ada):
    signature = sign(json.dumps(review(customer_id=501)).encode(), key)
    response = api("reviews/", review(customer_id=502), shop=shop, key=None, signature=signature)
    assert error_of(response) == (401, "invalid_signature")
    nothing_written()


def test_another_shops_key_does_not_sign_for_this_shop(api, client, shop, key, ada):
    other = installed_shop("other.myshopify.com")
    other_key = key_for(other)
    response = api("reviews/", review(customer_id=501), shop=shop, key=other_key)
    assert error_of(response) == (401, "invalid_signature")
    nothing_written()


@pytest.mark.parametrize(
    ("domain", "code"),
    [
        ("", "unknown_shop"),
        ("not a domain", "unknown_shop"),
        ("nobody.myshopify.com", "unknown_shop"),
    ],
)
def test_an_unknown_shop_is_401(api, client, shop, key, domain, code):
    response = api("reviews/", review(customer_id=501), shop=domain, key=key)
    assert error_of(response) == (401, code)
    nothing_written()


def test_a_shop_without_a_key_is_told_to_create_one(api):
    shop = installed_shop("nokey.myshopify.com")
    response = api("actions/", {}, shop=shop, key="beam_sk_guess")
    assert error_of(response) == (401, "no_api_key")
    assert "Ways to earn" in response.json()["error"]["message"]


def test_after_rotation_the_old_key_works_for_the_grace_window_only(api, client, shop, key, ada):
    new_key = key_for(shop)
    assert new_key != key
    assert AuditEvent.objects.filter(shop=shop, action="api_key.rotate").count() == 1
    first = api("reviews/", review("r-old", customer_id=501), shop=shop, key=key)
    second = api("reviews/", review("r-new", customer_id=501), shop=shop, key=new_key)
    assert first.status_code == second.status_code == 202

    ShopApiKey.objects.filter(shop=shop).update(
        previous_valid_until=timezone.now() - timedelta(seconds=1)
    )
    late = api("reviews/", review("r-late", customer_id=501), shop=shop, key=key)
    assert error_of(late) == (401, "invalid_signature")
    assert WebhookDelivery.objects.count() == 2
    assert timedelta(hours=24) == ROTATION_GRACE


def test_inbound_calls_are_rate_limited_per_shop(api, client, shop, key, ada, settings):
    settings.STOREFRONT_RATE_LIMITS = {"inbound": (2, 60)}
    codes = [
        api("reviews/", review(f"r-{n}", customer_id=501), shop=shop, key=key) for n in range(3)
    ]
    assert [r.status_code for r in codes] == [202, 202, 429]
    assert codes[2]["Retry-After"]
    assert WebhookDelivery.objects.count() == 2


# --- bad bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (review(event="posted"), "event must be one of"),
        (review(review_id=None, customer_id=501), "review_id is required"),
        (review(customer_id=501, rating=6), "rating must be"),
        (review(customer_id=501, rating="5"), "rating must be"),
        (review(), "customer_id or email"),
        (review(customer_id="abc"), "customer_id must be"),
        (review(email="nobody"), "email must be"),
        (review(customer_id=501, has_photo="yes"), "has_photo must be"),
        (review(review_id="a b", customer_id=501), "spaces"),
    ],
)
def test_a_bad_review_body_is_400_with_the_reason_and_nothing_stored(
    api, client, shop, key, ada, body, reason
):
    response = api("reviews/", body, shop=shop, key=key)
    assert error_of(response) == (400, "invalid_body")
    assert reason in response.json()["error"]["message"]
    nothing_written()


def test_a_body_over_the_cap_is_413(api, client, shop, key):
    response = api("actions/", b"{" + b" " * 70_000 + b"}", shop=shop, key=key)
    assert error_of(response) == (413, "body_too_large")
    nothing_written()


def test_only_post_is_allowed(client):
    assert client.get("/api/v1/reviews/").status_code == 405


# --- reviews ---------------------------------------------------------------------------------


def test_a_review_earns_once_however_often_it_is_delivered(api, client, shop, key, ada):
    body = review("r-1", customer_id=501)
    first = api("reviews/", body, shop=shop, key=key)
    again = api("reviews/", body, shop=shop, key=key)
    updated = api("reviews/", {**body, "event": "updated"}, shop=shop, key=key)

    assert first.status_code == 202
    assert first.json()["status"] == "accepted"
    assert first.json()["review_id"] == "r-1"
    assert again.json()["status"] == "duplicate"
    assert updated.json()["status"] == "accepted"
    assert ledger(ada) == [("action", 50, "Product review")]
    award = ActionAward.objects.get()
    assert (award.key, award.source_ref, award.points) == ("review:r-1", "r-1", 50)
    stored = WebhookDelivery.objects.filter(topic="beam/review")
    assert list(stored.values_list("status", flat=True)) == ["succeeded", "succeeded"]


def test_a_photo_earns_the_bonus_and_a_delete_reverses_both_once(api, client, shop, key, ada):
    created = review("r-2", email="ADA@example.com", has_photo=True)
    api("reviews/", created, shop=shop, key=key)
    ada.refresh_from_db()
    assert ada.balance == 70

    deleted = {"event": "deleted", "review_id": "r-2"}
    for _ in range(2):
        assert api("reviews/", deleted, shop=shop, key=key).status_code == 202
    api("reviews/", {**deleted, "extra": 1}, shop=shop, key=key)  # a new body

    ada.refresh_from_db()
    assert ada.balance == 0
    assert ledger(ada) == [
        ("action", 50, "Product review"),
        ("action", 20, "Review photo"),
        ("action_reversal", -50, "Product review"),
        ("action_reversal", -20, "Review photo"),
    ]
    assert set(ActionAward.objects.values_list("key", "reversal_reason")) == {
        ("review:r-2", "review deleted"),
        ("review_photo:r-2", "review deleted"),
    }
    # created again after the delete: the review's keys are spent
    api("reviews/", {**created, "rating": 4}, shop=shop, key=key)
    ada.refresh_from_db()
    assert ada.balance == 0


def test_an_unpublished_review_earns_nothing_until_published(api, client, shop, key, ada):
    api("reviews/", review("r-3", customer_id=501, published=False), shop=shop, key=key)
    assert ledger(ada) == []
    api("reviews/", review("r-3", customer_id=501, event="updated"), shop=shop, key=key)
    assert ledger(ada) == [("action", 50, "Product review")]


def test_a_review_refused_by_the_limit_never_earns_when_edited_in_a_new_period(
    api, client, shop, key, ada
):
    today = [("action", 50, "Product review"), ("action", 20, "Review photo")]
    api("reviews/", review("r-7", customer_id=501, has_photo=True), shop=shop, key=key)
    with_photo = review("r-8", customer_id=501, has_photo=True)
    api("reviews/", with_photo, shop=shop, key=key)  # today's limit: refused, both kinds
    assert ledger(ada) == today
    yesterday = shop_today(shop) - timedelta(days=1)  # a day passes: today's awards move back
    ActionAward.objects.update(occurred_on=yesterday, period=period_key("day", yesterday))

    edited = api("reviews/", {**with_photo, "event": "updated", "rating": 4}, shop=shop, key=key)

    assert WebhookDelivery.objects.get(pk=edited.json()["delivery"]["id"]).status == "succeeded"
    assert ledger(ada) == today
    assert set(ActionAward.objects.values_list("key", flat=True)) == {
        "review:r-7",
        "review_photo:r-7",
    }
    # the limit itself is per day: another review written on the new day earns
    api("reviews/", review("r-9", customer_id=501), shop=shop, key=key)
    assert ledger(ada) == [*today, ("action", 50, "Product review")]


def test_a_photo_added_by_an_edit_earns_the_bonus_once(api, client, shop, key, ada):
    body = review("r-10", customer_id=501)
    api("reviews/", body, shop=shop, key=key)
    api("reviews/", {**body, "event": "updated", "has_photo": True}, shop=shop, key=key)
    api("reviews/", {**body, "event": "updated", "has_photo": True, "x": 1}, shop=shop, key=key)
    assert ledger(ada) == [("action", 50, "Product review"), ("action", 20, "Review photo")]


def test_a_deletion_that_overtook_its_creation_keeps_the_review_deleted(api, shop, key, ada):
    api("reviews/", {"event": "deleted", "review_id": "r-4"}, shop=shop, key=key)
    api("reviews/", review("r-4", customer_id=501), shop=shop, key=key)
    assert ledger(ada) == []


def test_an_unknown_reviewer_is_202_with_the_reason_kept_for_a_replay(api, client, shop, key):
    response = api("reviews/", review("r-5", customer_id=999), shop=shop, key=key)
    assert response.status_code == 202
    stored = WebhookDelivery.objects.get()
    assert response.json()["delivery"]["id"] == stored.pk
    assert stored.status == "unprocessable"
    assert "No member for customer id 999" in stored.last_error
    assert ActionAward.objects.count() == 0


def test_a_review_action_turned_off_gives_nothing(api, client, shop, key, ada):
    EarningAction.objects.filter(shop=shop, kind="review").update(enabled=False)
    api("reviews/", review("r-6", customer_id=501), shop=shop, key=key)
    assert ledger(ada) == []


def test_reviews_are_isolated_per_shop(api, client, shop, key, ada):
    other = installed_shop("other-reviews.myshopify.com")
    action_on(other, "review", 50)
    other_key = key_for(other)
    MemberFactory(shop=other, customer_id=501, email="ada@example.com")
    api("reviews/", review("r-7", customer_id=501), shop=other, key=other_key)
    assert ledger(ada) == []
    other_award = ActionAward.objects.get()
    assert other_award.shop_id == other.pk and other_award.member.shop_id == other.pk
    # the same review id in this shop is its own review
    api("reviews/", review("r-7", customer_id=501), shop=shop, key=key)
    assert ledger(ada) == [("action", 50, "Product review")]


# --- Judge.me ---------------------------------------------------------------------------------


def judgeme(event: str = "review/created", **review_overrides: Any) -> dict[str, Any]:
    """A Judge.me webhook body (the shape of its review/created sample event)."""
    return {
        "review": {
            "id": 465077653,
            "title": "Nice Product",
            "body": "Very good product!",
            "rating": 5,
            "product_external_id": 8302173290794,
            "reviewer": {
                "id": 2136342,
                "external_id": 501,
                "email": "ada@example.com",
                "name": "Ada L",
            },
            "source": "web",
            "curated": "ok",
            "published": True,
            "hidden": False,
            "has_published_pictures": True,
            "pictures": [{"urls": {}}],
            **review_overrides,
        },
        "event": event,
        "shop_domain": "reviews.myshopify.com",
        "platform": "shopify",
    }


@pytest.fixture
def judgeme_post(client, django_capture_on_commit_callbacks):
    def post(shop: Shop, body: dict[str, Any], token: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/api/v1/reviews/judgeme?shop={shop.domain}&token={token}",
                data=json.dumps(body),
                content_type="application/json",
            )

    return post


def test_a_judgeme_webhook_earns_by_its_url_token_and_hiding_reverses(judgeme_post, shop, key, ada):
    token = url_token(key)
    assert judgeme_post(shop, judgeme(), token).status_code == 202
    ada.refresh_from_db()
    assert ada.balance == 70
    assert set(ActionAward.objects.values_list("key", flat=True)) == {
        "review:judgeme:465077653",
        "review_photo:judgeme:465077653",
    }
    hidden = judgeme("review/updated", hidden=True)
    assert judgeme_post(shop, hidden, token).status_code == 202
    ada.refresh_from_db()
    assert ada.balance == 0


def test_a_judgeme_webhook_with_a_wrong_token_or_shop_is_refused(
    judgeme_post, client, shop, key, ada
):
    assert error_of(judgeme_post(shop, judgeme(), "0" * 64)) == (401, "invalid_signature")
    response = client.post(
        f"/api/v1/reviews/judgeme?shop=other.myshopify.com&token={url_token(key)}",
        data=json.dumps(judgeme()),
        content_type="application/json",
    )
    assert error_of(response) == (401, "unknown_shop")
    wrong_shop = {**judgeme(), "shop_domain": "other.myshopify.com"}
    response = judgeme_post(shop, wrong_shop, url_token(key))
    assert error_of(response) == (400, "invalid_body")
    unsupported = judgeme_post(shop, judgeme("review/deleted"), url_token(key))
    assert error_of(unsupported) == (400, "invalid_body")
    nothing_written()


def test_a_judgeme_body_may_also_be_signed_with_the_key(api, judgeme_post, client, shop, key, ada):
    response = api("reviews/judgeme", judgeme(), shop=shop, key=key)
    assert response.status_code == 202
    ada.refresh_from_db()
    assert ada.balance == 70


# --- custom actions ---------------------------------------------------------------------------


def call(key: str = "evt-1", **overrides: Any) -> dict[str, Any]:
    return {"action": "quiz-done", "customer_id": 501, "idempotency_key": key, **overrides}


def test_a_custom_action_is_awarded_once_per_idempotency_key(api, client, shop, key, ada):
    first = api("actions/", call(), shop=shop, key=key)
    replay = api("actions/", call(), shop=shop, key=key)
    assert first.status_code == 201
    assert replay.status_code == 200
    assert first.json()["status"] == "awarded"
    assert replay.json()["status"] == "replayed"
    assert first.json()["award"] == replay.json()["award"]
    assert first.json()["award"]["points"] == 30
    assert ledger(ada) == [("action", 30, "quiz-done")]
    assert ActionAward.objects.get().key == "custom:quiz-done:evt-1"


def test_a_replay_answers_the_award_even_after_the_action_is_off(api, client, shop, key, ada):
    api("actions/", call(), shop=shop, key=key)
    EarningAction.objects.filter(shop=shop, kind="custom").update(enabled=False)
    assert api("actions/", call(), shop=shop, key=key).status_code == 200
    off = api("actions/", call("evt-2"), shop=shop, key=key)
    assert error_of(off) == (409, "action_off")
    assert ledger(ada) == [("action", 30, "quiz-done")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (call(action="nope"), 404, "unknown_action"),
        (call(customer_id=999), 404, "member_not_found"),
        (call(idempotency_key=""), 400, "invalid_body"),
        (call(idempotency_key="has space"), 400, "invalid_body"),
        (call(action="bad name!"), 400, "invalid_body"),
        (call(customer_id=None), 400, "invalid_body"),
        (call(occurred_at="yesterday"), 400, "invalid_body"),
        (call(occurred_at="2025-01-01T10:00:00"), 400, "invalid_body"),
        (call(occurred_at="2999-01-01T10:00:00+00:00"), 400, "invalid_body"),
        (call(points=1000), 400, "invalid_body"),
    ],
)
def test_a_refused_custom_action_says_why_and_writes_nothing(
    api, client, shop, key, ada, body, status, code
):
    response = api("actions/", body, shop=shop, key=key)
    assert error_of(response) == (status, code)
    assert response.json()["error"]["message"]
    nothing_written()


def test_the_limit_and_a_reused_key_are_409(api, client, shop, key, ada):
    api("actions/", call("evt-1"), shop=shop, key=key)
    limit = api("actions/", call("evt-2"), shop=shop, key=key)
    assert error_of(limit) == (409, "limit_reached")
    MemberFactory(shop=shop, customer_id=502, email="bo@example.com")
    reused = api("actions/", call("evt-1", customer_id=502), shop=shop, key=key)
    assert error_of(reused) == (409, "idempotency_key_reused")
    assert ActionAward.objects.count() == 1


def test_occurred_at_sets_the_day_the_limit_counts(api, client, shop, key, ada):
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    a = api("actions/", call("evt-1", occurred_at=yesterday), shop=shop, key=key)
    b = api("actions/", call("evt-2"), shop=shop, key=key)
    assert (a.status_code, b.status_code) == (201, 201)
    assert ledger(ada) == [("action", 30, "quiz-done"), ("action", 30, "quiz-done")]


def test_custom_actions_are_isolated_per_shop(api, client, shop, key, ada):
    other = installed_shop("other-actions.myshopify.com")
    other_key = key_for(other)
    MemberFactory(shop=other, customer_id=501)
    response = api("actions/", call(), shop=other, key=other_key)
    assert error_of(response) == (404, "unknown_action")  # quiz-done is this shop's action
    response = api("actions/", call(), shop=shop, key=other_key)
    assert error_of(response) == (401, "invalid_signature")
    nothing_written()


# --- privacy ---------------------------------------------------------------------------------


def test_reviews_are_in_the_customers_export_and_scrubbed_by_redaction(api, shop, key, ada):
    from loyalty.services.privacy import customer_data_export, customer_redact
    from merchants.compliance import customer_deliveries, payload_scrub

    api("reviews/", review("r-9", email="ada@example.com", has_photo=True), shop=shop, key=key)
    export = customer_data_export(shop=shop, customer_id=501, email="ada@example.com")
    assert {(a["key"], a["source_ref"]) for a in export["earning_actions"]} == {
        ("review:r-9", "r-9"),
        ("review_photo:r-9", "r-9"),
    }
    found = customer_deliveries(shop=shop, customer_id=None, email="ada@example.com")
    assert [d.topic for d in found] == ["beam/review"]
    assert list(customer_deliveries(shop=shop, customer_id=999, email="x@example.com")) == []
    assert payload_scrub(found[0].payload)["customer"]["email"] is None

    customer_redact(shop=shop, customer_id=501, email="ada@example.com")
    assert set(ActionAward.objects.values_list("source_ref", flat=True)) == {""}
