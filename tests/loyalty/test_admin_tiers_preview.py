"""The VIP tiers page's review as a background job, through HTTP signed like App Bridge: the
preview's progress while it runs (polled, Apply disabled), the apply of exactly the draft
that was previewed, a preview made stale by another change (409), a failed preview, the
periodic pruning; and the pieces under it (the draft's JSON, the pass's progress)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from loyalty import tasks
from loyalty.models import LoyaltyProgram, Member, Reward, Tier, TierPreview, TierRecompute
from loyalty.services import tiers_recompute
from loyalty.services.tiers_draft import TierDraftTier, tier_draft_current
from loyalty.services.tiers_preview import tier_draft_from_json, tier_draft_json
from loyalty.services.tiers_recompute import tier_settings_save, tiers_recompute_preview
from tests.loyalty.admin_helpers import AdminClient, admin_shop
from tests.loyalty.page_reading import read_page
from tests.loyalty.test_admin_tiers import (
    BRONZE_SILVER_GOLD,
    URL,
    form_values,
    gold_at,
    reviewed,
    snapshot,
    words,
)
from tests.loyalty.tier_helpers import member_of, paid, tier_name, tiers_setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():  # type: ignore[no-untyped-def]
    shop = admin_shop()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


@pytest.fixture
def client(shop) -> AdminClient:  # type: ignore[no-untyped-def]
    return AdminClient(shop, user_id="77")


@pytest.fixture
def members(shop) -> dict[str, Tier]:  # type: ignore[no-untyped-def]
    """Bronze 0 / Silver 100 / Gold 500 points; members with 10, 150, 300 and 700 points."""
    tiers = tiers_setup(shop, BRONZE_SILVER_GOLD)
    for n, price in enumerate(["10.00", "150.00", "300.00", "700.00"]):
        paid(shop, n + 1, price, customer_id=n + 1)
    return tiers


def preview_url(preview: TierPreview) -> str:
    return f"/admin/tiers/previews/{preview.pk}/"


def apply(client: AdminClient, html: str, capture: Any, **change: str) -> Any:
    with capture(execute=True):
        return client.post(URL, {**form_values(html), **change, "action": "apply"})


def test_a_preview_still_working_shows_its_progress_and_cannot_be_applied(
    shop, client, members
) -> None:
    data = gold_at(form_values(client.get(URL).content.decode()), "250")

    # The job is queued after the commit; here it has not run yet.
    html = client.post(URL, {**data, "action": "review"}).content.decode()

    preview = TierPreview.objects.get(shop=shop)
    assert preview.status == "pending"
    page = read_page(html)
    card = page.find(id="beam-tiers-preview")
    assert (card.attrs["hx-get"], card.attrs["hx-trigger"]) == (preview_url(preview), "every 1s")
    assert card.attrs["hx-target"] == "this"  # not the form's #beam-main
    assert "disabled" in card.find("button", id="beam-tiers-apply").attrs
    assert words(page.find(id="beam-tiers-changes")) == "Gold threshold: 500 points → 250 points"
    assert "style=" not in html
    before = snapshot(shop)

    refused = client.post(URL, {**form_values(html), "action": "apply"})

    assert refused.status_code == 409
    assert "still working out what the change does" in words(
        read_page(refused.content.decode()).find(id="beam-tiers-refused")
    )
    assert snapshot(shop) == before

    # Half way (as the job records it every batch): the bar shows it.
    TierPreview.objects.filter(pk=preview.pk).update(status="running", done=2, total=4)
    running = read_page(client.get(preview_url(preview)).content.decode())
    card = running.find(id="beam-tiers-preview")
    assert card.attrs["hx-trigger"] == "every 1s"
    assert card.find(class_="Polaris-ProgressBar__Indicator").attrs["data-progress"] == "0.50"
    assert words(card.find(id="beam-tiers-preview-status")) == (
        "Working out what the change does to members: 2 of 4 looked at."
    )

    TierPreview.objects.filter(pk=preview.pk).update(status="pending", done=0, total=0)
    assert tasks.tier_preview_run(preview.pk) == "done"
    ready = read_page(client.get(preview_url(preview)).content.decode())
    card = ready.find(id="beam-tiers-preview")
    assert "hx-trigger" not in card.attrs
    assert words(card.find(id="beam-tiers-counts")) == (
        "1 member moves up, 0 move down, 0 lose a granted tier, 3 unchanged."
    )
    assert "disabled" not in card.find("button", id="beam-tiers-apply").attrs
    assert tasks.tier_preview_run(preview.pk) == "done"  # delivered twice: runs once


def test_apply_saves_the_previewed_draft_not_what_is_posted_again(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    data = gold_at(form_values(client.get(URL).content.decode()), "250")
    html, _ = reviewed(client, data, django_capture_on_commit_callbacks)
    preview = TierPreview.objects.get(shop=shop)

    # The page's hidden fields altered after the review: Gold at 50, Silver renamed.
    applied = apply(
        client,
        html,
        django_capture_on_commit_callbacks,
        **{"tier-2-threshold": "50", "tier-1-name": "Posted"},
    )

    assert applied.status_code == 204
    assert Tier.objects.get(pk=members["Gold"].pk).threshold == Decimal(250)
    assert Tier.objects.get(pk=members["Silver"].pk).name == "Silver"
    recompute = TierRecompute.objects.get(shop=shop)
    assert (
        recompute.counts
        == preview.counts
        == {
            "up": 1,
            "down": 0,
            "grant_lost": 0,
            "unchanged": 3,
        }
    )
    assert [tier_name(member_of(shop, c)) for c in (1, 2, 3, 4)] == [
        "Bronze",
        "Silver",
        "Gold",
        "Gold",
    ]

    # Apply pressed twice: the settings are no longer the ones the preview was compared with.
    before = snapshot(shop)
    again = apply(client, html, django_capture_on_commit_callbacks)
    assert again.status_code == 409
    assert snapshot(shop) == before


def test_apply_without_a_preview_is_a_bad_request(shop, client, members) -> None:
    data = gold_at(form_values(client.get(URL).content.decode()), "250")
    before = snapshot(shop)

    for preview in ({}, {"preview": "abc"}):
        response = client.post(URL, {**data, **preview, "action": "apply"})
        assert response.status_code == 400
    assert client.post(URL, {**data, "preview": "99999", "action": "apply"}).status_code == 404
    assert snapshot(shop) == before


def test_a_preview_made_stale_by_another_change_is_refused(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    data = gold_at(form_values(client.get(URL).content.decode()), "250")
    html, _ = reviewed(client, data, django_capture_on_commit_callbacks)
    preview = TierPreview.objects.get(shop=shop)
    # Another admin changes the settings meanwhile (its recompute has finished).
    other = tier_draft_current(shop=shop)
    with django_capture_on_commit_callbacks(execute=True):
        tier_settings_save(shop=shop, draft=replace(other, grace_periods=2), actor="88")
    assert TierRecompute.objects.get(shop=shop).status == "done"
    before = snapshot(shop)

    card = read_page(client.get(preview_url(preview)).content.decode()).find(
        id="beam-tiers-preview"
    )
    assert "The tier settings changed since this review was worked out" in words(
        card.find(id="beam-tiers-preview-stale")
    )
    again = card.find("button", id="beam-tiers-review-again")
    assert (again.attrs["name"], again.attrs["value"]) == ("action", "review")
    assert not card.find_all(id="beam-tiers-apply")

    refused = apply(client, html, django_capture_on_commit_callbacks)

    assert refused.status_code == 409
    page = read_page(refused.content.decode())
    assert "The tier settings changed since this review was worked out" in words(
        page.find(id="beam-tiers-refused")
    )
    assert "Gold threshold: 500 points → 250 points" in words(page.find(id="beam-tiers-changes"))
    assert snapshot(shop) == before
    assert Tier.objects.get(pk=members["Gold"].pk).threshold == Decimal(500)

    # Review again (the draft is still in the page): a fresh preview against the new settings.
    html, card = reviewed(
        client, form_values(refused.content.decode()), django_capture_on_commit_callbacks
    )
    assert "1 member moves up" in words(card.find(id="beam-tiers-counts"))
    assert apply(client, html, django_capture_on_commit_callbacks).status_code == 204
    assert Tier.objects.get(pk=members["Gold"].pk).threshold == Decimal(250)


def test_a_failed_preview_says_why_and_offers_to_review_again(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    reward = Reward.objects.create(
        shop=shop, name="$5 off", kind="fixed_amount", points_cost=500, value=5
    )
    data = {**form_values(client.get(URL).content.decode()), "tier-2-entry_reward": str(reward.pk)}
    html = client.post(URL, {**data, "action": "review"}).content.decode()
    preview = TierPreview.objects.get(shop=shop)
    # Before the job runs, the reward is hidden from the catalogue: the draft cannot be saved.
    Reward.objects.filter(pk=reward.pk).update(active=False)

    assert tasks.tier_preview_run(preview.pk) == "failed"

    preview.refresh_from_db()
    assert preview.status == "failed"
    assert preview.error == (
        "An entry reward must be a shown reward of the catalogue with a fixed value."
    )
    card = read_page(client.get(preview_url(preview)).content.decode()).find(
        id="beam-tiers-preview"
    )
    assert "hx-trigger" not in card.attrs
    assert words(card.find(id="beam-tiers-preview-failed")) == (
        "Working out what the change does to members stopped: An entry reward must be a shown "
        "reward of the catalogue with a fixed value. Review the change again."
    )
    assert card.find("button", id="beam-tiers-review-again").attrs["value"] == "review"
    before = snapshot(shop)

    refused = apply(client, html, django_capture_on_commit_callbacks)

    assert refused.status_code == 409
    assert "This review stopped before it finished" in words(
        read_page(refused.content.decode()).find(id="beam-tiers-refused")
    )
    assert snapshot(shop) == before


def test_an_unexpected_error_fails_the_preview_not_the_request(shop, members) -> None:
    preview = TierPreview.objects.create(shop=shop, draft={"tiers": "broken"}, base={})

    assert tasks.tier_preview_run(preview.pk) == "failed"

    preview.refresh_from_db()
    assert preview.status == "failed" and preview.error


def test_the_periodic_task_prunes_old_previews_and_fails_lost_ones(shop, members) -> None:
    draft = tier_draft_json(tier_draft_current(shop=shop))
    now = timezone.now()

    def made(ago: timedelta, status: str) -> TierPreview:
        preview = TierPreview.objects.create(shop=shop, draft=draft, base=draft, status=status)
        TierPreview.objects.filter(pk=preview.pk).update(created_at=now - ago)
        return preview

    old = made(timedelta(days=1, minutes=1), "done")
    lost = made(timedelta(minutes=20), "running")
    fresh = made(timedelta(minutes=1), "running")
    members_before = list(Member.objects.filter(shop=shop).values_list("pk", "tier_id"))

    tasks.tiers_evaluate_due()

    assert not TierPreview.objects.filter(pk=old.pk).exists()
    lost.refresh_from_db()
    assert (lost.status, lost.error) == ("failed", "the review did not finish in time")
    assert TierPreview.objects.get(pk=fresh.pk).status == "running"
    assert list(Member.objects.filter(shop=shop).values_list("pk", "tier_id")) == members_before


def test_the_draft_survives_its_json(shop, members) -> None:
    draft = replace(
        tier_draft_current(shop=shop),
        program_start=date(2024, 3, 1),
        new_member_tier="Silver",
        new_member_days=30,
        tiers=(
            *tier_draft_current(shop=shop).tiers,
            TierDraftTier(
                name="Platinum",
                threshold=Decimal("900.50"),
                multiplier=Decimal("2.25"),
                perks=("Free shipping", "Gift"),
                entry_points=10,
            ),
        ),
    )

    assert tier_draft_from_json(tier_draft_json(draft)) == draft


def test_the_pass_reports_its_progress_every_batch(shop, members, monkeypatch) -> None:
    monkeypatch.setattr(tiers_recompute, "BATCH", 2)
    seen: list[tuple[int, int]] = []

    counts = tiers_recompute_preview(
        shop=shop,
        draft=tier_draft_current(shop=shop),
        progress=lambda done, so_far: seen.append((done, so_far.members)),
    )

    assert seen == [(2, 2), (4, 4)]
    assert counts.members == 4
