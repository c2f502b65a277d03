"""The member's tier on the store's customer, through the devstore: an app-owned metafield
(``$app.tier``) and an optional tag, written in batches of 25, coalesced, within the rate
limit; failures retried, and parked for the merchant when they keep failing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from django.conf import settings
from django.utils import timezone

from devstore import services as store
from devstore.clock import clock_at
from devstore.graphql.metafields import APP_ID
from devstore.models import DevCustomer, DevMetafield, DevShop
from loyalty import tasks
from loyalty.models import AuditEvent, LoyaltyProgram, Member, Tier, TierSync
from loyalty.services.tier_grants import tier_grant, tier_manual_set
from loyalty.services.tiers_draft import tier_draft_current
from loyalty.services.tiers_recompute import tier_settings_save
from loyalty.services.tiers_sync import (
    tier_sync_retry_parked,
    tier_sync_status,
    tiers_sync_shop,
)
from merchants.models import Shop
from merchants.shopify import client as client_module
from merchants.shopify.client import AdminClient
from tests.devstore_install import beam_install
from tests.loyalty.factories import MemberFactory
from tests.loyalty.tier_helpers import paid, tiers_setup

pytestmark = pytest.mark.django_db

DOMAIN = "tier-sync.myshopify.com"
GRAPHQL = (
    f"http://beam.test/devstore/{DOMAIN}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"
)
NAMESPACE = f"app--{APP_ID}"  # what the store makes of "$app"


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(client_module, "BACKOFF_BASE", 0.0)


@pytest.fixture
def dev_shop() -> DevShop:
    return store.shop_create(DOMAIN, name="Tier Sync", currency="USD")


@pytest.fixture
def shop(dev_shop: DevShop) -> Shop:
    shop = beam_install(dev_shop)
    LoyaltyProgram.objects.create(shop=shop)
    return shop


@pytest.fixture
def tiers(shop: Shop) -> dict[str, Tier]:
    return tiers_setup(shop)


@pytest.fixture
def customers(dev_shop: DevShop, shop: Shop) -> Callable[[int], list[Member]]:
    def make(count: int) -> list[Member]:
        made = []
        for n in range(count):
            customer = store.customer_create(dev_shop, f"c{n}@example.com", f"C{n}", "Shopper")
            made.append(MemberFactory(shop=shop, customer_id=customer.id, email=customer.email))
        return made

    return make


def sent(platform_http, since: int = 0) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    """The Admin API operations sent (name of the operation, variables) since call ``since``."""
    out = []
    for call in platform_http.calls[since:]:
        if "/graphql.json" not in call.request.url:
            continue
        body = json.loads(call.request.body)
        query = body["query"].strip()
        out.append((query.split("(")[0].split()[1], body["variables"]))
    return out


def tier_field(customer_id: int) -> str | None:
    row = DevMetafield.objects.filter(
        owner_gid=f"gid://shopify/Customer/{customer_id}", namespace=NAMESPACE, key="tier"
    ).first()
    return None if row is None else f"{row.type}:{row.value}"


def tags_of(customer_id: int) -> list[str]:
    return list(DevCustomer.objects.get(id=customer_id).tags)


def set_tier(shop: Shop, member: Member, tier: Tier | None, key: str) -> None:
    tier_manual_set(
        shop=shop, member_id=member.pk, tier_id=tier.pk if tier else None, actor="t", key=key
    )


def tag_setting(shop: Shop, *, enabled: bool = True, prefix: str = "VIP: ") -> None:
    draft = tier_draft_current(shop=shop)
    tier_settings_save(
        shop=shop,
        draft=draft.__class__(
            **{**draft.__dict__, "customer_tag_enabled": enabled, "customer_tag_prefix": prefix}
        ),
        actor="t",
    )


def test_ten_changes_between_two_runs_are_one_write_of_the_last_value(
    shop, tiers, customers, platform_http
) -> None:  # type: ignore[no-untyped-def]
    (member,) = customers(1)
    for n in range(10):
        set_tier(shop, member, tiers["Gold" if n % 2 else "Silver"], key=f"k{n}")
    row = TierSync.objects.get(member=member)
    assert (row.pending, row.mark) == (True, 10)
    before = len(platform_http.calls)

    report = tasks.tiers_sync_run()

    assert report == 1
    assert sent(platform_http, before) == [
        (
            "BeamCustomerLoyaltyMetafieldsSet",
            {
                "metafields": [
                    {
                        "ownerId": f"gid://shopify/Customer/{member.customer_id}",
                        "namespace": "$app",
                        "key": "tier",
                        "type": "single_line_text_field",
                        "value": "Gold",
                    }
                ]
            },
        )
    ]
    assert tier_field(member.customer_id) == "single_line_text_field:Gold"
    row.refresh_from_db()
    assert (row.pending, row.synced_value, row.synced_tag, row.attempts) == (False, "Gold", "", 0)
    # nothing waits: the next run sends nothing
    before = len(platform_http.calls)
    assert tasks.tiers_sync_run() == 0
    assert sent(platform_http, before) == []


def test_sixty_members_are_three_calls_of_at_most_25(shop, tiers, customers, platform_http) -> None:  # type: ignore[no-untyped-def]
    members = customers(60)
    report = tier_grant(
        shop=shop,
        customer_ids=[m.customer_id for m in members],
        tier_id=tiers["Gold"].pk,
        days=30,
        actor="t",
        key="launch",
    )
    assert report.granted == 60
    before = len(platform_http.calls)

    result = tiers_sync_shop(shop_id=shop.pk)

    calls = sent(platform_http, before)
    assert [name for name, _ in calls] == ["BeamCustomerLoyaltyMetafieldsSet"] * 3
    assert [len(v["metafields"]) for _, v in calls] == [25, 25, 10]
    assert (result.written, result.calls, result.parked) == (60, 3, 0)
    assert {tier_field(m.customer_id) for m in members} == {"single_line_text_field:Gold"}
    assert not TierSync.objects.filter(pending=True).exists()


def test_a_throttled_shop_is_left_for_a_later_run(
    shop, dev_shop, tiers, customers, platform_http
) -> None:  # type: ignore[no-untyped-def]
    (member,) = customers(1)
    set_tier(shop, member, tiers["Silver"], key="k")
    DevShop.objects.filter(pk=dev_shop.pk).update(
        throttle_strict=True, throttle_available=0.0, throttle_updated_at=timezone.now()
    )
    impatient = AdminClient(shop, sleep=lambda s: None, max_total_wait=0.0)

    result = tiers_sync_shop(shop_id=shop.pk, client=impatient)

    assert (result.throttled, result.written, result.parked, result.postponed) == (True, 0, 0, 1)
    row = TierSync.objects.get(member=member)
    assert row.pending and row.attempts == 0 and row.parked_at is None
    assert row.next_attempt_at > timezone.now()  # when the bucket holds the call again
    assert tier_field(member.customer_id) is None
    assert tasks.tiers_sync_run() == 0  # not due yet: nothing is sent
    with clock_at(row.next_attempt_at + timedelta(seconds=1)):
        assert tasks.tiers_sync_run() == 1
    assert tier_field(member.customer_id) == "single_line_text_field:Silver"


def test_a_run_stops_when_the_bucket_runs_low(shop, dev_shop, tiers, customers) -> None:  # type: ignore[no-untyped-def]
    members = customers(30)
    tier_grant(
        shop=shop,
        customer_ids=[m.customer_id for m in members],
        tier_id=tiers["Silver"].pk,
        days=30,
        actor="t",
        key="g",
    )
    DevShop.objects.filter(pk=dev_shop.pk).update(
        throttle_available=100.0, throttle_updated_at=timezone.now() + timedelta(hours=1)
    )

    result = tiers_sync_shop(shop_id=shop.pk)

    assert (result.written, result.throttled) == (25, True)
    assert TierSync.objects.filter(pending=True).count() == 5


def test_the_tag_follows_the_tier_and_other_tags_stay(shop, tiers, customers) -> None:  # type: ignore[no-untyped-def]
    tag_setting(shop, prefix="VIP: ")
    (member,) = customers(1)
    DevCustomer.objects.filter(id=member.customer_id).update(tags=["newsletter"])
    set_tier(shop, member, tiers["Silver"], key="a")
    tasks.tiers_sync_run()
    assert tags_of(member.customer_id) == ["newsletter", "VIP: Silver"]

    set_tier(shop, member, tiers["Gold"], key="b")
    tasks.tiers_sync_run()

    assert tags_of(member.customer_id) == ["newsletter", "VIP: Gold"]
    assert tier_field(member.customer_id) == "single_line_text_field:Gold"
    row = TierSync.objects.get(member=member)
    assert (row.synced_value, row.synced_tag) == ("Gold", "VIP: Gold")

    set_tier(shop, member, None, key="c")  # no tier: the metafield and the tag go
    tasks.tiers_sync_run()
    assert tags_of(member.customer_id) == ["newsletter"]
    assert tier_field(member.customer_id) is None


def test_turning_the_tag_on_renaming_and_turning_tiers_off_rewrite_every_customer(
    shop, tiers, customers
) -> None:  # type: ignore[no-untyped-def]
    first, second = customers(2)
    set_tier(shop, first, tiers["Gold"], key="a")
    set_tier(shop, second, tiers["Silver"], key="b")
    tasks.tiers_sync_run()
    assert tags_of(first.customer_id) == []

    tag_setting(shop, prefix="Club ")
    tasks.tiers_sync_run()
    assert tags_of(first.customer_id) == ["Club Gold"]
    assert tags_of(second.customer_id) == ["Club Silver"]

    draft = tier_draft_current(shop=shop)
    renamed = tuple(
        t.__class__(**{**t.__dict__, "name": "Platinum"}) if t.name == "Gold" else t
        for t in draft.tiers
    )
    tier_settings_save(
        shop=shop, draft=draft.__class__(**{**draft.__dict__, "tiers": renamed}), actor="t"
    )
    tasks.tiers_sync_run()
    assert tier_field(first.customer_id) == "single_line_text_field:Platinum"
    assert tags_of(first.customer_id) == ["Club Platinum"]

    draft = tier_draft_current(shop=shop)
    tier_settings_save(
        shop=shop, draft=draft.__class__(**{**draft.__dict__, "enabled": False}), actor="t"
    )
    tasks.tiers_sync_run()
    assert (tier_field(first.customer_id), tags_of(first.customer_id)) == (None, [])
    assert (tier_field(second.customer_id), tags_of(second.customer_id)) == (None, [])


def test_a_tier_reached_by_an_order_reaches_the_customer(shop, dev_shop, tiers) -> None:  # type: ignore[no-untyped-def]
    customer = store.customer_create(dev_shop, "ada@example.com", "Ada", "Lovelace")

    paid(shop, 1, "150.00", customer_id=customer.id)  # creates the member, reaches Silver
    tasks.tiers_sync_run()

    assert tier_field(customer.id) == "single_line_text_field:Silver"


def test_a_customer_the_store_refuses_is_parked_and_the_others_written(
    shop, tiers, customers
) -> None:  # type: ignore[no-untyped-def]
    good = customers(2)
    ghost = MemberFactory(shop=shop, customer_id=999_999)  # not a customer of the store
    for n, member in enumerate([*good, ghost]):
        set_tier(shop, member, tiers["Silver"], key=f"k{n}")

    result = tiers_sync_shop(shop_id=shop.pk)

    assert (result.written, result.parked) == (2, 1)
    assert [tier_field(m.customer_id) for m in good] == ["single_line_text_field:Silver"] * 2
    status = tier_sync_status(shop=shop)
    assert (status.pending, status.parked) == (0, 1)
    (parked,) = status.parked_rows
    assert parked["customer_id"] == 999_999
    assert "Owner does not exist" in parked["error"]
    assert tasks.tiers_sync_run() == 0  # parked rows wait for the merchant

    assert tier_sync_retry_parked(shop=shop, actor="staff") == 1
    assert AuditEvent.objects.filter(shop=shop, action="tiers.sync_retry").count() == 1
    assert tier_sync_status(shop=shop).pending == 1


def test_failures_back_off_and_are_parked_after_the_last_attempt(
    shop, tiers, customers, platform_http, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from loyalty.services import tiers_sync

    monkeypatch.setattr(tiers_sync, "MAX_ATTEMPTS", 3)  # the waits stay within the token's hour
    (member,) = customers(1)
    set_tier(shop, member, tiers["Silver"], key="k")
    platform_http.add(responses.POST, GRAPHQL, status=503)  # the store is down
    moment = timezone.now()
    waits = []
    for attempt in range(1, 4):
        row = TierSync.objects.get(member=member)
        moment = max(moment, row.next_attempt_at) + timedelta(seconds=1)
        with clock_at(moment):
            result = tiers_sync_shop(shop_id=shop.pk)
        row.refresh_from_db()
        waits.append(row.next_attempt_at - moment)
        assert row.attempts == attempt
        assert (row.parked_at is not None) == (attempt == 3)
        assert result.written == 0
    assert waits[0] < waits[1] < waits[2]  # backing off
    assert "HTTP 503" in row.last_error
    assert tier_field(member.customer_id) is None


def test_a_change_during_the_write_is_written_next(shop, tiers, customers, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from loyalty.services import tiers_sync

    (member,) = customers(1)
    set_tier(shop, member, tiers["Silver"], key="a")
    real = tiers_sync.customer_text_metafield_write

    def write_then_change(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        set_tier(shop, member, tiers["Gold"], key="b")  # lands while the batch is out
        return out

    monkeypatch.setattr(tiers_sync, "customer_text_metafield_write", write_then_change)
    tiers_sync_shop(shop_id=shop.pk, max_batches=1)
    monkeypatch.setattr(tiers_sync, "customer_text_metafield_write", real)
    row = TierSync.objects.get(member=member)
    assert (row.pending, row.synced_value) == (True, "Silver")
    assert tier_field(member.customer_id) == "single_line_text_field:Silver"

    tasks.tiers_sync_run()

    assert tier_field(member.customer_id) == "single_line_text_field:Gold"
    assert not TierSync.objects.get(member=member).pending


def test_a_redacted_customer_is_not_written(shop, tiers, customers) -> None:  # type: ignore[no-untyped-def]
    from loyalty.services.privacy import customer_redact

    (member,) = customers(1)
    set_tier(shop, member, tiers["Silver"], key="a")
    customer_redact(shop=shop, customer_id=member.customer_id, email=None)

    assert not TierSync.objects.filter(member=member).exists()
    assert tasks.tiers_sync_run() == 0
    assert tier_field(member.customer_id) is None


def test_the_declarative_definition_names_the_namespace_and_key_written() -> None:
    import tomllib

    with open(Path(settings.BASE_DIR) / "shopify.app.toml", "rb") as f:
        config = tomllib.load(f)
    definition = config["customer"]["metafields"]["app"]["tier"]
    assert definition["type"] == "single_line_text_field"
    assert definition["access"]["admin"] == "merchant_read"
    assert definition["capabilities"]["admin_filterable"] is True
