"""The VIP tiers page through HTTP, signed like App Bridge: the empty state and its starter,
the draft form, field errors (422, nothing saved), the review of what a draft does (a
background preview with the same counts the apply then writes), the apply of the previewed
draft (audited, recompute with progress), one change at a time, another shop's rows,
requests without the session token. The preview's own edges (pending, stale, failed) are in
``test_admin_tiers_preview.py``."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from loyalty.models import (
    AuditEvent,
    LoyaltyProgram,
    Member,
    Reward,
    Tier,
    TierPreview,
    TierRecompute,
    TierSettings,
)
from tests.loyalty.admin_helpers import SHOP_B, AdminClient, admin_shop
from tests.loyalty.page_reading import Node, read_page
from tests.loyalty.tier_helpers import member_of, paid, tier_name, tiers_setup

pytestmark = pytest.mark.django_db
URL = "/admin/tiers/"
BRONZE_SILVER_GOLD = (
    ("Bronze", "0", "1", 0),
    ("Silver", "100", "1.25", 50),
    ("Gold", "500", "1.5", 200),
)


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
    """Bronze 0 / Silver 100 / Gold 500 points; four members with 10, 150, 300 and 700
    points (Bronze, Silver, Silver, Gold)."""
    tiers = tiers_setup(shop, BRONZE_SILVER_GOLD)
    for n, price in enumerate(["10.00", "150.00", "300.00", "700.00"]):
        paid(shop, n + 1, price, customer_id=n + 1)
    return tiers


def words(node: Node | None) -> str:
    return node.text() if node is not None else ""


def form_values(html: str, form_id: str = "beam-tiers-form") -> dict[str, Any]:
    """What the browser submits for the form as shown (buttons left out)."""
    form = read_page(html).find("form", id=form_id)
    data: dict[str, Any] = {}
    for node in form.walk():
        name = node.attrs.get("name")
        if not name or node.tag == "button":
            continue
        if node.tag == "input":
            kind = node.attrs.get("type")
            if kind in ("checkbox", "radio"):
                if "checked" in node.attrs:
                    data[name] = node.attrs.get("value") or "on"
            else:
                data[name] = node.attrs.get("value") or ""
        elif node.tag == "textarea":
            data[name] = node.raw_text().removeprefix("\n")
        elif node.tag == "select":
            options = node.find_all("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            data[name] = chosen[0].attrs.get("value") or "" if chosen else ""
    return data


def inline_error(html: str, name: str) -> str:
    """The Polaris inline error of the field ``name`` (its ``data-field``), or ""."""
    found = read_page(html).find_all(data_field=name)
    if not found:
        return ""
    errors = found[0].find_all(class_="Polaris-InlineError")
    return errors[0].text() if errors else ""


def tier_errors(html: str, name: str) -> list[str]:
    """The inline errors of the tiers' field ``name``, tier by tier ("" for none)."""
    return [
        " ".join(e.text() for e in node.find_all(class_="Polaris-InlineError"))
        for node in read_page(html).find_all(data_field=name)
    ]


def snapshot(shop) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "tiers": list(
            Tier.objects.filter(shop=shop)
            .order_by("pk")
            .values_list("name", "threshold", "multiplier", "active", "entry_reward")
        ),
        "settings": list(TierSettings.objects.filter(shop=shop).values()),
        "members": list(
            Member.objects.filter(shop=shop)
            .order_by("pk")
            .values_list("pk", "tier", "tier_multiplier")
        ),
        "recomputes": TierRecompute.objects.filter(shop=shop).count(),
        "previews": TierPreview.objects.filter(shop=shop).count(),
        "audit": AuditEvent.objects.filter(shop=shop, action="tiers.update").count(),
    }


def gold_at(data: dict[str, Any], threshold: str) -> dict[str, Any]:
    return {**data, "tier-2-threshold": threshold}


def reviewed(client: AdminClient, data: dict[str, Any], capture: Any) -> tuple[str, Node]:
    """Post "Review changes" and let the preview's job run (eager Celery, queued after the
    commit, which the test's transaction holds back until the post has answered): the page
    as posted (the review card polling its preview) and the preview card as the poll then
    finds it, with the counts."""
    with capture(execute=True):
        response = client.post(URL, {**data, "action": "review"})
    assert response.status_code == 200
    html = response.content.decode()
    card = read_page(html).find(id="beam-tiers-preview")
    assert card.attrs["hx-trigger"] == "every 1s"
    polled = client.get(card.attrs["hx-get"])
    assert polled.status_code == 200
    return html, read_page(polled.content.decode()).find(id="beam-tiers-preview")


# --- the page ------------------------------------------------------------------------------


def test_without_tiers_the_page_is_an_empty_state_offering_a_starter(shop, client) -> None:
    html = client.get(URL).content.decode()

    page = read_page(html)
    assert "Reward your best customers with VIP tiers" in words(page.find(id="beam-tiers-empty"))
    starter = page.find("form", id="beam-tiers-starter")
    assert starter.attrs["method"] == "get"
    assert [o.attrs["value"] for o in starter.find_all("option")] == ["points", "spend", "orders"]
    assert not page.find_all("form", id="beam-tiers-form")


def test_the_starter_fills_the_form_for_the_chosen_metric_without_saving(shop, client) -> None:
    html = client.get(f"{URL}?starter=spend").content.decode()

    data = form_values(html)
    assert [data[f"tier-{n}-name"] for n in range(3)] == ["Bronze", "Silver", "Gold"]
    assert [data[f"tier-{n}-threshold"] for n in range(3)] == ["0.00", "250.00", "1000.00"]
    assert [data[f"tier-{n}-multiplier"] for n in range(3)] == ["1", "1.25", "1.5"]
    assert (data["metric"], data["enabled"], data["window"], data["window_months"]) == (
        "spend",
        "on",
        "rolling",
        "12",
    )
    page = read_page(html)
    assert "Threshold (USD spent)" in words(page.find(id="tier-1"))
    assert words(page.find(id="beam-tiers-spend-words")) == (
        "Amount spent counts paid orders, net of refunds: items after discounts, without "
        "shipping, without tax. Gift cards never count."
    )
    assert not TierSettings.objects.filter(shop=shop).exists()


def test_the_saved_tiers_are_the_form(shop, client, members) -> None:
    response = client.get(URL, htmx=False)
    html = response.content.decode()

    assert response.status_code == 200
    assert "style=" not in html and "<script>" not in html
    assert '<a href="/admin/tiers/">VIP tiers</a>' in html  # the App Bridge menu item
    data = form_values(html)
    assert [data[f"tier-{n}-name"] for n in range(3)] == ["Bronze", "Silver", "Gold"]
    assert [data[f"tier-{n}-threshold"] for n in range(3)] == ["0", "100", "500"]
    assert data["tier-2-tier_id"] == str(members["Gold"].pk)
    assert data["tier-2-entry_points"] == "200"
    assert data["customer_tag_prefix"] == "VIP: " and "customer_tag_enabled" not in data
    page = read_page(html)
    assert "Threshold (points earned)" in words(page.find(id="tier-0"))
    assert words(page.find("h1")) == "VIP tiers"
    assert "On" in words(page.find(class_="Polaris-Badge"))


def test_the_menu_lists_vip_tiers_after_rewards(shop, client) -> None:
    html = client.get("/admin/earning/", htmx=False).content.decode()

    menu = read_page(html).find("ui-nav-menu")
    assert [a.text() for a in menu.find_all("a")] == [
        "Home",
        "Ways to earn",
        "Rewards",
        "VIP tiers",
        "Referrals",
        "Branding",
        "Customers",
        "Analytics",
        "Settings",
    ]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"tier-1-multiplier": "0.5"},
            "multiplier",
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            {"tier-1-threshold": "-3"},
            "threshold",
            "Ensure this value is greater than or equal to 0.",
        ),
        ({"tier-1-threshold": "abc"}, "threshold", "Enter a number."),
        ({"tier-1-name": ""}, "name", "This field is required."),
        (
            {"tier-1-threshold": "100.5"},
            "threshold",
            "Silver: the threshold must be a whole number.",
        ),
        ({"tier-1-threshold": "500"}, "threshold", "Each tier needs its own threshold."),
        ({"tier-1-name": "gold"}, "name", "Each tier needs its own name."),
        (
            {"window_months": "99"},
            "window_months",
            "Ensure this value is less than or equal to 60.",
        ),
        (
            {"grace_periods": "0"},
            "grace_periods",
            "Ensure this value is greater than or equal to 1.",
        ),
        (
            {"customer_tag_enabled": "on", "customer_tag_prefix": "VIP, "},
            "customer_tag_prefix",
            "The tag prefix cannot contain a comma.",
        ),
        (
            {"new_member_tier": "Gold"},
            "new_member_days",
            "A tier for new members needs a number of days, and days a tier.",
        ),
        (
            {"metric": "visits"},
            "metric",
            "Select a valid choice. visits is not one of the available choices.",
        ),
        (
            {"tier-1-entry_reward": "999999"},
            "entry_reward",
            "Select a valid choice. 999999 is not one of the available choices.",
        ),
    ],
)
def test_a_bad_draft_is_refused_on_its_field_and_nothing_is_saved(
    shop, client, members, change, field, message
) -> None:
    data = {**form_values(client.get(URL).content.decode()), **change}
    before = snapshot(shop)

    response = client.post(URL, {**data, "action": "review"})

    html = response.content.decode()
    assert response.status_code == 422
    if field in ("multiplier", "threshold", "name", "entry_reward"):  # a tier's field
        assert message in tier_errors(html, field)
    else:
        assert inline_error(html, field) == message
    assert "Please fix the fields below." in words(read_page(html).find(id="beam-tiers-errors"))
    assert snapshot(shop) == before  # no preview recorded either


def test_an_entry_reward_that_cannot_be_given_is_refused_on_its_field(
    shop, client, members
) -> None:
    hidden = Reward.objects.create(
        shop=shop, name="Old gift", kind="fixed_amount", points_cost=1, value=5, active=False
    )
    Tier.objects.filter(pk=members["Gold"].pk).update(entry_reward=hidden)
    html = client.get(URL).content.decode()
    assert "Old gift (cannot be given)" in html
    before = snapshot(shop)

    response = client.post(URL, form_values(html))

    assert response.status_code == 422
    assert tier_errors(response.content.decode(), "entry_reward") == [
        "",
        "",
        "An entry reward must be a shown reward of the catalogue with a fixed value.",
    ]
    assert snapshot(shop) == before


def test_a_draft_without_tiers_is_refused_with_the_reason(shop, client, members) -> None:
    data = form_values(client.get(URL).content.decode())
    for n in range(3):
        data[f"tier-{n}-archive"] = "on"
    before = snapshot(shop)

    response = client.post(URL, {**data, "action": "review"})

    assert response.status_code == 422
    assert "Add at least one tier." in words(
        read_page(response.content.decode()).find(id="beam-tiers-errors")
    )
    assert snapshot(shop) == before


# --- review and apply -----------------------------------------------------------------------


def test_the_review_counts_are_what_the_apply_does(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    data = gold_at(form_values(client.get(URL).content.decode()), "250")
    before = snapshot(shop)

    html, card = reviewed(client, data, django_capture_on_commit_callbacks)

    page = read_page(html)
    assert words(page.find(id="beam-tiers-changes")) == "Gold threshold: 500 points → 250 points"
    assert "disabled" in page.find("button", id="beam-tiers-apply").attrs  # no counts yet
    assert words(card.find(id="beam-tiers-counts")) == (
        "1 member moves up, 0 move down, 0 lose a granted tier, 3 unchanged."
    )
    preview = TierPreview.objects.get(shop=shop)
    assert (preview.status, preview.done, preview.total, preview.actor) == ("done", 4, 4, "77")
    assert preview.counts == {"up": 1, "down": 0, "grant_lost": 0, "unchanged": 3}
    assert "hx-trigger" not in card.attrs  # ready: no more polling
    assert "disabled" not in card.find("button", id="beam-tiers-apply").attrs
    assert form_values(html)["preview"] == str(preview.pk)
    assert snapshot(shop) == {**before, "previews": 1}  # the review changes no member

    with django_capture_on_commit_callbacks(execute=True):
        applied = client.post(URL, {**form_values(html), "action": "apply"})

    assert applied.status_code == 204
    assert TierRecompute.objects.get(shop=shop).counts == preview.counts
    assert json.loads(applied["HX-Location"])["path"] == URL
    recompute = TierRecompute.objects.get(shop=shop)
    assert (recompute.status, recompute.done, recompute.total, recompute.actor) == (
        "done",
        4,
        4,
        "77",
    )
    assert recompute.counts == {"up": 1, "down": 0, "grant_lost": 0, "unchanged": 3}
    assert [tier_name(member_of(shop, c)) for c in (1, 2, 3, 4)] == [
        "Bronze",
        "Silver",
        "Gold",
        "Gold",
    ]
    assert Tier.objects.get(pk=members["Gold"].pk).threshold == Decimal(250)
    event = AuditEvent.objects.get(shop=shop, action="tiers.update")
    assert (event.actor, event.changes) == ("77", {"Gold.threshold": ["500.00", "250.00"]})

    page = read_page(client.get(URL).content.decode())
    progress = page.find(id="beam-tiers-progress")
    assert "hx-trigger" not in progress.attrs  # done: no more polling
    assert "1 member moves up, 0 move down, 0 lose a granted tier, 3 unchanged" in words(progress)
    bar = progress.find(class_="Polaris-ProgressBar__Indicator")
    assert bar.attrs["data-progress"] == "1.00"


def test_the_review_lists_each_setting_and_tier_change(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    reward = Reward.objects.create(
        shop=shop, name="$5 off", kind="fixed_amount", points_cost=500, value=5
    )
    data = form_values(client.get(URL).content.decode())
    data.update(
        {
            "window": "rolling",
            "window_months": "6",
            "tier-1-name": "Argent",
            "tier-2-multiplier": "2",
            "tier-2-entry_reward": str(reward.pk),
            "tier-2-perks": "Free shipping\nBirthday gift",
            "tier-0-archive": "on",
        }
    )

    html, _ = reviewed(client, data, django_capture_on_commit_callbacks)

    lines = [li.text() for li in read_page(html).find(id="beam-tiers-changes").find_all("li")]
    assert lines == [
        "Period: Calendar year → Rolling months",
        "Rolling window (months): 12 → 6",
        "Renames a tier: Silver → Argent",
        "Gold multiplier: 1.5x → 2x",
        "Gold perks: none → Free shipping; Birthday gift",
        "Gold entry reward: none → $5 off",
        "Archives the tier Bronze (its history is kept)",
    ]


def test_apply_stores_the_entry_reward_perks_and_archives(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    reward = Reward.objects.create(
        shop=shop, name="$5 off", kind="fixed_amount", points_cost=500, value=5
    )
    data = form_values(client.get(URL).content.decode())
    data.update(
        {
            "tier-2-entry_reward": str(reward.pk),
            "tier-2-perks": "Free shipping\r\nBirthday gift\r\n",
            "tier-0-archive": "on",
        }
    )
    review, _ = reviewed(client, data, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, {**form_values(review), "action": "apply"})

    gold = Tier.objects.get(pk=members["Gold"].pk)
    assert (gold.entry_reward_id, gold.perks) == (reward.pk, ["Free shipping", "Birthday gift"])
    assert Tier.objects.get(pk=members["Bronze"].pk).active is False
    assert Tier.objects.filter(shop=shop).count() == 3  # archived, never deleted


def test_add_and_swap_show_the_draft_again_without_checking_it(shop, client, members) -> None:
    data = form_values(client.get(URL).content.decode())

    added = client.post(URL, {**data, "action": "add"}).content.decode()

    grown = form_values(added)
    assert grown["tier-TOTAL_FORMS"] == "4"
    assert (grown["tier-3-name"], grown["tier-3-tier_id"], grown["tier-3-multiplier"]) == (
        "",
        "",
        "1",
    )
    assert not read_page(added).find_all(class_="Polaris-InlineError")

    swapped = form_values(client.post(URL, {**data, "action": "up-2"}).content.decode())
    assert [(swapped[f"tier-{n}-name"], swapped[f"tier-{n}-threshold"]) for n in range(3)] == [
        ("Bronze", "0"),
        ("Gold", "100"),
        ("Silver", "500"),
    ]
    assert snapshot(shop)["recomputes"] == 0


def test_a_new_tier_is_created_from_the_form(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    data = form_values(
        client.post(
            URL, {**form_values(client.get(URL).content.decode()), "action": "add"}
        ).content.decode()
    )
    data.update({"tier-3-name": "Platinum", "tier-3-threshold": "600", "tier-3-multiplier": "2"})
    review, card = reviewed(client, data, django_capture_on_commit_callbacks)
    page = read_page(review)
    assert "Adds the tier Platinum, from 600 points" in words(page.find(id="beam-tiers-changes"))
    assert words(card.find(id="beam-tiers-counts")) == (
        "1 member moves up, 0 move down, 0 lose a granted tier, 3 unchanged."
    )

    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, {**form_values(review), "action": "apply"})

    assert tier_name(member_of(shop, 4)) == "Platinum"
    assert member_of(shop, 4).tier_multiplier == Decimal(2)


def test_turning_tiers_off_says_what_it_does(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    data = form_values(client.get(URL).content.decode())
    del data["enabled"]

    html, card = reviewed(client, data, django_capture_on_commit_callbacks)

    assert words(card.find(id="beam-tiers-counts")) == (
        "Tiers turn off: while they are off no member holds a tier or earns a multiplier "
        "(4 members hold one now)."
    )
    assert words(read_page(html).find(id="beam-tiers-changes")) == "Tiers: on → off"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, {**form_values(html), "action": "apply"})

    page = read_page(client.get(URL).content.decode())
    assert TierSettings.objects.get(shop=shop).enabled is False
    assert "Tiers are off" in words(page.find(id="beam-tiers-off"))
    assert "Off" in words(page.find(class_="Polaris-Badge"))
    assert words(page.find(id="beam-tiers-progress-status")) == (
        f"Done on {TierRecompute.objects.get(shop=shop).finished_at:%-d %b %Y, %H:%M}: "
        "tiers are off, so no member holds a tier."
    )


def test_while_a_recompute_runs_apply_is_disabled_and_refused(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    running = TierRecompute.objects.create(shop=shop, status="running", total=4, done=1)
    data = gold_at(form_values(client.get(URL).content.decode()), "250")

    review, card = reviewed(client, data, django_capture_on_commit_callbacks)

    page = read_page(review)
    assert "still being moved" in words(page.find(id="beam-tiers-running"))
    assert "disabled" in card.find("button", id="beam-tiers-apply").attrs
    assert "1 member moves up" in words(card.find(id="beam-tiers-counts"))
    progress = page.find(id="beam-tiers-progress")
    assert progress.attrs["hx-get"] == f"/admin/tiers/recomputes/{running.pk}/"
    assert progress.attrs["hx-trigger"] == "every 1s"
    before = snapshot(shop)

    refused = client.post(URL, {**form_values(review), "action": "apply"})

    assert refused.status_code == 409
    assert "Members are still being moved after the last change (1 of 4 done)" in words(
        read_page(refused.content.decode()).find(id="beam-tiers-refused")
    )
    assert snapshot(shop) == before


def test_the_progress_partial_polls_until_done(shop, client, members) -> None:
    recompute = TierRecompute.objects.create(
        shop=shop,
        status="running",
        total=4,
        done=1,
        counts={"up": 1, "down": 0, "grant_lost": 0, "unchanged": 0},
    )
    url = f"/admin/tiers/recomputes/{recompute.pk}/"

    running = read_page(client.get(url).content.decode()).find(id="beam-tiers-progress")

    assert running.attrs["hx-trigger"] == "every 1s"
    assert running.find(class_="Polaris-ProgressBar__Indicator").attrs["data-progress"] == "0.25"
    assert "Moving members: 1 of 4 done" in words(running)

    TierRecompute.objects.filter(pk=recompute.pk).update(
        status="done", done=4, counts={"up": 1, "down": 2, "grant_lost": 0, "unchanged": 1}
    )
    done = read_page(client.get(url).content.decode()).find(id="beam-tiers-progress")
    assert "hx-trigger" not in done.attrs
    assert "1 member moves up, 2 move down, 0 lose a granted tier, 1 unchanged" in words(done)


# --- tenancy and the session token ------------------------------------------------------------


def test_another_shops_tiers_rewards_recomputes_and_previews_stay_out_of_reach(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    from loyalty.services.tiers_draft import TierDraftTier, tier_draft_current
    from loyalty.services.tiers_preview import tier_preview_start

    other = admin_shop(SHOP_B)
    theirs = tiers_setup(other, (("Bravo Elite", "10", "3", 0),))
    their_reward = Reward.objects.create(
        shop=other, name="Bravo secret reward", kind="fixed_amount", points_cost=1, value=50
    )
    their_recompute = TierRecompute.objects.create(shop=other, status="running", total=1)
    their_draft = tier_draft_current(shop=other)
    with django_capture_on_commit_callbacks(execute=True):
        their_preview = tier_preview_start(
            shop=other,
            draft=replace(
                their_draft, tiers=(TierDraftTier(name="Bravo Taken", threshold=Decimal(1)),)
            ),
            actor="9",
        )
    TierRecompute.objects.filter(pk=their_recompute.pk).update(status="done")
    before = snapshot(other)

    page = client.get(URL).content.decode()
    assert "Bravo" not in page
    assert not read_page(page).find_all(id="beam-tiers-running")
    assert client.get(f"/admin/tiers/recomputes/{their_recompute.pk}/").status_code == 404
    assert client.get(f"/admin/tiers/previews/{their_preview.pk}/").status_code == 404

    data = form_values(page)
    taken = client.post(
        URL, {**data, "tier-2-tier_id": str(theirs["Bravo Elite"].pk), "action": "review"}
    )
    assert taken.status_code == 422
    assert "A tier of the draft is not one of this program's tiers." in words(
        read_page(taken.content.decode()).find(id="beam-tiers-errors")
    )
    reward = client.post(
        URL, {**data, "tier-2-entry_reward": str(their_reward.pk), "action": "review"}
    )
    assert reward.status_code == 422
    # Their preview (ready, its settings unchanged) applied through this shop: not found.
    applied = client.post(URL, {**data, "preview": str(their_preview.pk), "action": "apply"})
    assert applied.status_code == 404
    assert snapshot(other) == before
    assert snapshot(shop)["previews"] == 0
    assert Tier.objects.get(pk=theirs["Bravo Elite"].pk).name == "Bravo Elite"


@pytest.mark.parametrize("url", [URL, "/admin/tiers/recomputes/1/", "/admin/tiers/previews/1/"])
def test_requests_without_the_session_token_are_refused(shop, members, url) -> None:
    before = snapshot(shop)
    data = {"enabled": "on", "metric": "orders", "action": "apply"}

    for method in ("get", "post"):
        response = getattr(Client(), method)(url, data, headers={"HX-Request": "true"})
        assert response.status_code == 401
    assert snapshot(shop) == before


def test_a_cross_site_form_cannot_apply(
    shop, client, members, django_capture_on_commit_callbacks
) -> None:
    """The admin authenticates writes by the Authorization header only: a form another site
    posts (cookies and all, even with a token in the address) is refused, CSRF check on."""
    from tests.merchants.embedded_helpers import session_token

    data = gold_at(form_values(client.get(URL).content.decode()), "250")
    data = {**form_values(reviewed(client, data, django_capture_on_commit_callbacks)[0])}
    data["action"] = "apply"
    before = snapshot(shop)
    browser = Client(enforce_csrf_checks=True)

    forged = browser.post(f"{URL}?id_token={session_token(shop.domain)}", data)

    assert forged.status_code == 401
    assert snapshot(shop) == before
    signed = AdminClient(shop)
    signed.client = Client(enforce_csrf_checks=True)
    assert signed.post(URL, data).status_code == 204


def test_customers_the_store_refused_are_listed_and_tried_again(shop, client, members) -> None:  # type: ignore[no-untyped-def]
    """The tier written to the store's customers: a parked member is listed with the store's
    reason; "Try again" queues it (audited); with nothing parked or waiting, the card says
    every customer shows their tier."""
    from django.utils import timezone

    from loyalty.models import TierSync

    TierSync.objects.filter(shop=shop).delete()
    assert "Every member's tier is on their customer" in client.get(URL).content.decode()
    parked = member_of(shop, 2)
    TierSync.objects.create(
        shop=shop,
        member=parked,
        pending=True,
        next_attempt_at=timezone.now(),
        attempts=8,
        last_error="Owner does not exist",
        parked_at=timezone.now(),
    )

    page = read_page(client.get(URL).content.decode())
    card = page.find(id="beam-tiers-sync")
    assert "Owner does not exist" in card.text()
    assert str(parked.customer_id) in card.find(id="beam-tiers-sync-table").text()

    response = client.post("/admin/tiers/sync/retry")

    assert response.status_code in (200, 204, 302)
    row = TierSync.objects.get(member=parked)
    assert (row.parked_at, row.attempts, row.pending) == (None, 0, True)
    assert AuditEvent.objects.filter(shop=shop, action="tiers.sync_retry").count() == 1
    assert "1 customer waiting" in client.get(URL).content.decode()


def test_another_shop_cannot_retry_this_shops_parked_customers(shop, members) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from loyalty.models import TierSync

    TierSync.objects.filter(shop=shop).delete()
    TierSync.objects.create(
        shop=shop,
        member=member_of(shop, 1),
        next_attempt_at=timezone.now(),
        parked_at=timezone.now(),
    )
    other = admin_shop(SHOP_B)
    LoyaltyProgram.objects.create(shop=other)

    AdminClient(other, user_id="9").post("/admin/tiers/sync/retry")

    assert TierSync.objects.get(shop=shop).parked_at is not None
