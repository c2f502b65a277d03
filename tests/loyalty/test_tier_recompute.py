"""Settings changes: the preview says what a draft does to every member and changes nothing;
saving applies the same decisions in the background, in batches, with progress; a member
keeps a tier held in its grace; a bad draft is refused whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from devstore.clock import clock_at
from loyalty import services
from loyalty.errors import InvalidTiers
from loyalty.models import (
    AuditEvent,
    LoyaltyProgram,
    Member,
    Tier,
    TierChange,
    TierRecompute,
    TierSettings,
)
from loyalty.rules.tiers import QualifyingSums, Window
from loyalty.services import tiers_recompute
from loyalty.services.tier_grants import tier_grant
from loyalty.services.tiers import tier_sums_read, tier_sums_stream
from loyalty.services.tiers_draft import TierDraft, TierDraftTier, tier_draft_current
from loyalty.services.tiers_recompute import (
    RecomputeCounts,
    tier_settings_save,
    tiers_recompute_apply,
    tiers_recompute_preview,
)
from tests.loyalty.factories import refund
from tests.loyalty.tier_helpers import history, member_of, paid, tier_name, tiers_setup
from tests.merchants.webhook_support import ShopFactory

pytestmark = pytest.mark.django_db
D = Decimal
NOW = datetime(2025, 6, 10, 12, tzinfo=UTC)
THREE = (("Bronze", "0", "1", 0), ("Silver", "100", "1.25", 0), ("Gold", "500", "1.5", 0))


@pytest.fixture
def shop():  # type: ignore[no-untyped-def]
    """Five members: 10, 150, 300 and 700 points (Bronze, Silver, Silver, Gold) and one
    with 20 points holding a 30-day grant of Silver."""
    shop = ShopFactory()
    LoyaltyProgram.objects.create(shop=shop)
    tiers = tiers_setup(shop, THREE)
    with clock_at(NOW):
        for n, price in enumerate(["10.00", "150.00", "300.00", "700.00", "20.00"]):
            paid(shop, n + 1, price, customer_id=n + 1)
        tier_grant(
            shop=shop, customer_ids=[5], tier_id=tiers["Silver"].pk, days=30, actor="a", key="g"
        )
    return shop


def snapshot(shop) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    return list(
        Member.objects.filter(shop=shop)
        .order_by("customer_id")
        .values_list("customer_id", "tier__name", "tier_multiplier", "earned_tier", "granted_tier")
    )


def draft_of(shop, **changes: Any) -> TierDraft:  # type: ignore[no-untyped-def]
    return replace(tier_draft_current(shop=shop), **changes)


def tiers_by_name(shop) -> dict[str, Tier]:  # type: ignore[no-untyped-def]
    return {t.name: t for t in Tier.objects.filter(shop=shop, active=True)}


def test_the_current_settings_are_the_starting_draft(shop) -> None:  # type: ignore[no-untyped-def]
    draft = tier_draft_current(shop=shop)
    assert [(t.name, t.threshold, t.multiplier) for t in draft.tiers] == [
        ("Bronze", D(0), D(1)),
        ("Silver", D(100), D("1.25")),
        ("Gold", D(500), D("1.5")),
    ]
    assert (draft.enabled, draft.metric, draft.window) == (True, "points", "calendar_year")
    with clock_at(NOW):
        assert tiers_recompute_preview(shop=shop, draft=draft) == RecomputeCounts(unchanged=5)


def test_the_preview_counts_moves_and_lost_grants_and_writes_nothing(shop) -> None:  # type: ignore[no-untyped-def]
    by_name = tiers_by_name(shop)
    draft = draft_of(  # Silver removed, Gold from 250 points
        shop,
        tiers=(
            TierDraftTier("Bronze", D(0), tier_id=by_name["Bronze"].pk),
            TierDraftTier("Gold", D(250), D("1.5"), tier_id=by_name["Gold"].pk),
        ),
    )
    before = snapshot(shop)
    with clock_at(NOW):
        counts = tiers_recompute_preview(shop=shop, draft=draft, keep_held=False)
    # 10: Bronze stays; 150: Silver is gone, down to Bronze; 300: up to Gold; 700: Gold
    # stays; the grant of Silver is lost.
    assert counts == RecomputeCounts(up=1, down=1, grant_lost=1, unchanged=2)
    assert snapshot(shop) == before
    assert not TierChange.objects.filter(reason="settings_change").exists()


def test_saving_applies_the_previewed_decisions_with_progress_and_history(
    shop,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    by_name = tiers_by_name(shop)
    draft = draft_of(
        shop,
        tiers=(
            TierDraftTier("Bronze", D(0), tier_id=by_name["Bronze"].pk),
            TierDraftTier("Gold", D(250), D("1.75"), tier_id=by_name["Gold"].pk),
            TierDraftTier("Diamond", D(600), D(2), perks=("Free shipping",)),
        ),
    )
    with clock_at(NOW):
        preview = tiers_recompute_preview(shop=shop, draft=draft, keep_held=False)
        with django_capture_on_commit_callbacks(execute=True):
            recompute = tier_settings_save(shop=shop, draft=draft, actor="staff 1", keep_held=False)
    recompute.refresh_from_db()
    assert (recompute.status, recompute.done, recompute.total) == ("done", 5, 5)
    assert RecomputeCounts(**recompute.counts) == preview
    assert preview == RecomputeCounts(up=2, down=1, grant_lost=1, unchanged=1)
    assert [(c, t, m) for c, t, m, *_ in snapshot(shop)] == [
        (1, "Bronze", D(1)),
        (2, "Bronze", D(1)),
        (3, "Gold", D("1.75")),
        (4, "Diamond", D(2)),
        (5, "Bronze", D(1)),
    ]
    assert history(member_of(shop, 4))[-1] == ("settings_change", "Gold", "Diamond")
    assert history(member_of(shop, 5))[-1] == ("settings_change", "Silver", "Bronze")
    assert Tier.objects.get(pk=by_name["Silver"].pk).active is False  # archived, not deleted
    assert Tier.objects.get(shop=shop, name="Diamond").perks == ["Free shipping"]
    event = AuditEvent.objects.get(shop=shop, action="tiers.update")
    assert event.actor == "staff 1"
    with clock_at(NOW + timedelta(minutes=1)):
        paid(shop, 99, "10.00", customer_id=3)  # the new multiplier earns at once
    assert member_of(shop, 3).balance == 300 + 17


def test_the_preview_read_in_small_chunks_counts_what_the_apply_writes(
    shop,  # type: ignore[no-untyped-def]
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """The preview walks the members beside their sums read in one pass, chunk by chunk:
    members without orders in the window (a new one here) and members with them meet
    their own sums across chunk boundaries."""
    Member.objects.create(shop=shop, customer_id=6)  # no orders at all
    monkeypatch.setattr(tiers_recompute, "BATCH", 2)
    by_name = tiers_by_name(shop)
    draft = draft_of(
        shop,
        tiers=(
            TierDraftTier("Bronze", D(0), tier_id=by_name["Bronze"].pk),
            TierDraftTier("Gold", D(250), D("1.5"), tier_id=by_name["Gold"].pk),
        ),
    )
    with clock_at(NOW):
        preview = tiers_recompute_preview(shop=shop, draft=draft, keep_held=False)
        recompute = tier_settings_save(shop=shop, draft=draft, actor="s", keep_held=False)
        tiers_recompute_apply(recompute_id=recompute.pk, batch=2)
    recompute.refresh_from_db()
    assert preview == RecomputeCounts(up=2, down=1, grant_lost=1, unchanged=2)
    assert RecomputeCounts(**recompute.counts) == preview


def test_the_sums_of_every_member_in_one_pass_are_the_sums_read_by_member(shop) -> None:  # type: ignore[no-untyped-def]
    with clock_at(NOW):
        paid(shop, 10, "40.00", customer_id=2)
        services.refund_webhook_process(shop=shop, payload=refund(101, 10, [(1, "15.00")]))
    ids = list(Member.objects.filter(shop=shop).order_by("pk").values_list("pk", flat=True))
    window = Window(None, None)
    streamed = list(tier_sums_stream(shop=shop, window=window, chunk=2))
    assert [member_id for member_id, _ in streamed] == ids  # every member has orders here
    assert dict(streamed) == tier_sums_read(shop=shop, member_ids=ids, window=window)
    assert dict(streamed)[ids[1]].refunded_goods == D("15.00")
    points = dict(tier_sums_stream(shop=shop, window=window, fields=("points",)))
    assert points[ids[1]] == QualifyingSums(points=dict(streamed)[ids[1]].points)
    assert points[ids[1]].points > 150  # the second order's points, net of its refund


def test_a_multiplier_change_reaches_members_without_a_history_row(
    shop,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    current = tier_draft_current(shop=shop)
    tiers = tuple(replace(t, multiplier=D(3)) if t.name == "Gold" else t for t in current.tiers)
    with clock_at(NOW), django_capture_on_commit_callbacks(execute=True):
        tier_settings_save(shop=shop, draft=replace(current, tiers=tiers), actor="s")
    gold = member_of(shop, 4)
    assert (tier_name(gold), gold.tier_multiplier) == ("Gold", D(3))
    assert history(gold) == [("earned", "", "Gold")]


def test_members_keep_a_tier_held_in_its_grace_when_thresholds_rise(
    shop,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    current = tier_draft_current(shop=shop)
    raised = replace(
        current,
        tiers=tuple(replace(t, threshold=t.threshold * 10) for t in current.tiers),
    )
    with clock_at(NOW):
        assert tiers_recompute_preview(shop=shop, draft=raised) == RecomputeCounts(unchanged=5)
        assert tiers_recompute_preview(shop=shop, draft=raised, keep_held=False) == RecomputeCounts(
            down=3, unchanged=2
        )
        with django_capture_on_commit_callbacks(execute=True):
            tier_settings_save(shop=shop, draft=raised, actor="s")
    assert [t for _, t, *_ in snapshot(shop)] == ["Bronze", "Silver", "Silver", "Gold", "Silver"]


def test_the_apply_resumes_by_ranges_and_a_second_run_changes_nothing(shop) -> None:  # type: ignore[no-untyped-def]
    by_name = tiers_by_name(shop)
    draft = draft_of(shop, tiers=(TierDraftTier("Gold", D(200), D(2), tier_id=by_name["Gold"].pk),))
    with clock_at(NOW):
        recompute = tier_settings_save(shop=shop, draft=draft, actor="s", keep_held=False)
        assert TierRecompute.objects.get(pk=recompute.pk).status == "pending"  # not committed
        tiers_recompute_apply(recompute_id=recompute.pk, batch=2)
        after = snapshot(shop)
        changes = TierChange.objects.count()
        TierRecompute.objects.filter(pk=recompute.pk).update(status="running", last_member_id=0)
        tiers_recompute_apply(recompute_id=recompute.pk, batch=3)
    assert snapshot(shop) == after
    assert TierChange.objects.count() == changes
    assert [t for _, t, *_ in after] == [None, None, "Gold", "Gold", None]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tiers": ()}, "Add at least one tier."),
        ({"metric": "visits"}, "Choose what members qualify by."),
        (
            {"new_member_tier": "Nope", "new_member_days": 5},
            "The tier for new members must be one of the tiers.",
        ),
        (
            {"new_member_tier": "Gold"},
            "A tier for new members needs a number of days, and days a tier.",
        ),
        ({"grace_periods": 9}, "The grace is 1 to 4 periods."),
    ],
)
def test_a_bad_draft_is_refused_and_nothing_is_written(shop, change, message) -> None:  # type: ignore[no-untyped-def]
    before = (snapshot(shop), list(Tier.objects.values_list("name", "threshold", "active")))
    draft = draft_of(shop, **change)
    for call in (
        lambda: tiers_recompute_preview(shop=shop, draft=draft),
        lambda: tier_settings_save(shop=shop, draft=draft, actor="s"),
    ):
        with pytest.raises(InvalidTiers) as raised:
            call()
        assert str(raised.value) == message
    assert (snapshot(shop), list(Tier.objects.values_list("name", "threshold", "active"))) == before
    assert not TierRecompute.objects.exists()
    assert not AuditEvent.objects.filter(action="tiers.update").exists()


def test_a_draft_cannot_name_another_shops_tier(shop) -> None:  # type: ignore[no-untyped-def]
    other = ShopFactory()
    foreign = tiers_setup(other)["Gold"]
    draft = draft_of(shop, tiers=(TierDraftTier("Gold", D(10), tier_id=foreign.pk),))
    with pytest.raises(InvalidTiers, match="not one of this program's tiers"):
        tier_settings_save(shop=shop, draft=draft, actor="s")
    assert Tier.objects.get(pk=foreign.pk).threshold == D(500)


def test_new_members_get_the_saved_grant(
    shop,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    draft = draft_of(shop, new_member_tier="Gold", new_member_days=14)
    with clock_at(NOW), django_capture_on_commit_callbacks(execute=True):
        tier_settings_save(shop=shop, draft=draft, actor="s")
    settings = TierSettings.objects.get(shop=shop)
    assert (settings.new_member_tier.name, settings.new_member_days) == ("Gold", 14)  # type: ignore[union-attr]
    with clock_at(NOW):
        paid(shop, 50, "10.00", customer_id=77)
    assert tier_name(member_of(shop, 77)) == "Gold"
