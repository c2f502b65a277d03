"""A member's tier in the admin's Customers section: the Tier card (tier in effect, earned or
granted, until when in the shop's time zone, qualifying value and what the next tier needs)
and the tier history; the tier set by hand and the grant (validated, audited, idempotent per
form render, refused without the session token); the Tier column and filter of the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from devstore.clock import clock_at
from loyalty.models import AuditEvent, LoyaltyProgram, Member, Tier, TierChange
from loyalty.services.tier_grants import tier_grant, tier_manual_set
from merchants.models import StaffMember
from tests.loyalty.admin_helpers import SHOP_B, AdminClient, admin_shop, elements
from tests.loyalty.page_reading import read_page, table_rows
from tests.loyalty.tier_helpers import member_of, paid, tiers_setup

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York


@pytest.fixture
def shop():
    shop = admin_shop(iana_timezone="America/New_York")
    LoyaltyProgram.objects.create(shop=shop)
    return shop


@pytest.fixture
def client(shop) -> AdminClient:
    StaffMember.objects.create(shop=shop, user_id="77", first_name="Ann", last_name="Lee")
    return AdminClient(shop, user_id="77")


@pytest.fixture
def tiers(shop) -> dict[str, Tier]:
    return tiers_setup(shop)  # Silver at 100 points, Gold at 500; calendar years


@pytest.fixture
def silver(shop, tiers) -> Member:
    """Jane earned Silver with an order of 150.00 on 1 March 2026 (150 points)."""
    with clock_at(NOW - timedelta(days=1)):
        paid(shop, 1, "150.00", customer_id=501, processed_at="2026-03-01T10:00:00-05:00")
    member = member_of(shop, 501)
    Member.objects.filter(pk=member.pk).update(first_name="Jane", last_name="Doe")
    member.refresh_from_db()
    assert member.tier_id == tiers["Silver"].pk
    return member


def page(client: AdminClient, member: Member) -> str:
    with clock_at(NOW):
        return client.get(f"/admin/customers/{member.pk}/").content.decode()


def post(client: AdminClient, url: str, data: dict[str, str]):
    with clock_at(NOW):
        return client.post(url, data)


def fact(html: str, dd_id: str) -> str:
    return read_page(html).find(id=dd_id).text()


def tier_state(member: Member) -> tuple:
    member.refresh_from_db()
    return (
        member.tier_id,
        member.earned_tier_id,
        member.tier_expires_at,
        member.granted_tier_id,
        member.grant_ends_at,
        TierChange.objects.filter(member=member).count(),
        AuditEvent.objects.filter(shop=member.shop).count(),
    )


# --- the Tier card and the history -----------------------------------------------------------


def test_no_tier_card_while_tiers_are_off(shop, client) -> None:
    member = Member.objects.create(shop=shop, customer_id=7, email="jo@example.com")

    html = page(client, member)

    for hook in ("beam-tier", "beam-tier-history", "beam-tier-set", "beam-tier-grant"):
        assert f'id="{hook}"' not in html


def test_the_card_shows_the_earned_tier_until_the_last_day_in_the_shop_time_zone(
    client, silver
) -> None:
    html = page(client, silver)

    # Held until the end of 2027 in New York (1 January 2028 05:00 UTC): the last day is 31 Dec.
    assert fact(html, "beam-tier-now") == "Silver until 31 Dec 2027 Success Earned"
    assert fact(html, "beam-tier-value") == "150 points this calendar year"
    assert fact(html, "beam-tier-next") == "Gold at 500 points: 350 points more"
    assert 'id="beam-tier-earned"' not in html
    assert table_rows(html, "beam-tier-history-table") == [
        ["1 Mar 2026, 10:00", "No tier → Silver", "Earned", "1 Jan 2028, 00:00", "Beam", ""]
    ]


def test_spend_tiers_state_money_and_the_top_tier_says_so(shop, client) -> None:
    tiers = tiers_setup(shop, (("Silver", "100", "1", 0), ("Gold", "250", "1", 0)), metric="spend")
    with clock_at(NOW):
        paid(shop, 1, "300.00", customer_id=501, processed_at="2026-03-02T09:00:00-05:00")
    member = member_of(shop, 501)
    assert member.tier_id == tiers["Gold"].pk

    html = page(client, member)

    assert fact(html, "beam-tier-value") == "$300.00 this calendar year"
    assert fact(html, "beam-tier-next") == "No higher tier to reach"


def test_a_member_without_a_tier_has_an_empty_history(shop, client, tiers) -> None:
    member = Member.objects.create(shop=shop, customer_id=7, email="jo@example.com")

    html = page(client, member)

    assert fact(html, "beam-tier-now") == "No tier"
    assert fact(html, "beam-tier-next") == "Silver at 100 points: 100 points more"
    assert "No tier changes yet" in html
    assert 'id="beam-tier-history-table"' not in html


def _history_list(client: AdminClient, member: Member, query: str = "") -> str:
    """The Tier history list alone, as its Newer/Older links load it (htmx, its own target)."""
    headers = {**client.headers(), "HX-Target": "beam-tier-history-list"}
    with clock_at(NOW):
        response = client.client.get(f"/admin/customers/{member.pk}/{query}", headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def _manual_changes(member: Member, tiers: dict[str, Tier], count: int) -> None:
    """``count`` manual changes after the member's earned Silver, one a minute up to NOW,
    noted "#1" (oldest) to "#<count>"."""
    TierChange.objects.bulk_create(
        TierChange(
            shop=member.shop,
            member=member,
            from_tier=tiers["Silver"],
            to_tier=tiers["Silver"],
            from_name="Silver",
            to_name="Silver",
            reason=TierChange.Reason.MANUAL,
            key=f"test:{i}",
            actor="77",
            note=f"#{i}",
            at=NOW - timedelta(minutes=count - i),
        )
        for i in range(1, count + 1)
    )


def test_the_history_pages_by_50_and_row_51_is_on_the_older_page(client, silver, tiers) -> None:
    _manual_changes(silver, tiers, 50)  # with the earned Silver: 51 rows

    html = page(client, silver)

    rows = table_rows(html, "beam-tier-history-table")
    assert len(rows) == 50
    assert [rows[0][5], rows[-1][5]] == ["#50", "#1"]  # newest first
    assert rows[0][4] == "Ann Lee"
    older = elements(html, "a", **{"aria-label": "Older"})
    assert [(a["href"], a["hx-get"], a["hx-target"], a["hx-swap"]) for a in older] == [
        (
            f"/admin/customers/{silver.pk}/?tier_page=2",
            f"/admin/customers/{silver.pk}/?tier_page=2",
            "#beam-tier-history-list",
            "outerHTML",
        )
    ]
    assert not elements(html, "a", **{"aria-label": "Newer"})
    assert "Page 1 of 2" in fact(html, "beam-tier-history")

    second = _history_list(client, silver, "?tier_page=2")

    assert table_rows(second, "beam-tier-history-table") == [
        ["1 Mar 2026, 10:00", "No tier → Silver", "Earned", "1 Jan 2028, 00:00", "Beam", ""]
    ]
    assert second.startswith('<div id="beam-tier-history-list"')  # the list alone
    assert 'id="beam-tier"' not in second and 'id="beam-ledger"' not in second
    newer = elements(second, "a", **{"aria-label": "Newer"})
    assert [a["href"] for a in newer] == [f"/admin/customers/{silver.pk}/?tier_page=1"]
    assert not elements(second, "a", **{"aria-label": "Older"})


def test_a_history_of_50_has_no_pages(client, silver, tiers) -> None:
    _manual_changes(silver, tiers, 49)

    html = page(client, silver)

    assert len(table_rows(html, "beam-tier-history-table")) == 50
    assert "beam-pagination" not in fact(html, "beam-tier-history") and "Older" not in html


@pytest.mark.parametrize(("tier_page", "shown"), [("abc", 50), ("0", 1), ("99", 1)])
def test_a_bad_page_number_shows_a_page_not_an_error(
    client, silver, tiers, tier_page, shown
) -> None:
    _manual_changes(silver, tiers, 50)

    rows = table_rows(
        _history_list(client, silver, f"?tier_page={tier_page}"), "beam-tier-history-table"
    )

    assert len(rows) == shown  # not a number: the first page; out of range: the last


def test_the_history_list_alone_has_its_empty_state(shop, client, tiers) -> None:
    member = Member.objects.create(shop=shop, customer_id=7, email="jo@example.com")

    html = _history_list(client, member, "?tier_page=2")

    assert (
        read_page(html).find(id="beam-tier-history-none").text().startswith("No tier changes yet")
    )
    assert 'id="beam-tier-history-table"' not in html


def test_another_shops_member_history_is_a_404(client, silver) -> None:
    other = admin_shop(domain=SHOP_B)
    stranger = Member.objects.create(shop=other, customer_id=501, email="x@example.com")

    headers = {**client.headers(), "HX-Target": "beam-tier-history-list"}
    response = client.client.get(f"/admin/customers/{stranger.pk}/?tier_page=2", headers=headers)

    assert response.status_code == 404


# --- set by hand -----------------------------------------------------------------------------


def test_setting_the_tier_by_hand_records_history_and_audit(client, silver, tiers) -> None:
    gold = tiers["Gold"]
    data = {
        "tier_set-tier": str(gold.pk),
        "tier_set-reason": "VIP event",
        "tier_set-idempotency_key": "k1",
    }

    response = post(client, f"/admin/customers/{silver.pk}/tier", data)

    assert response.status_code == 200
    assert "Tier set" in response["HX-Trigger"]
    html = response.content.decode()
    assert fact(html, "beam-tier-now") == "Gold until 31 Dec 2027 Success Earned"
    assert table_rows(html, "beam-tier-history-table")[0] == [
        "2 Mar 2026, 10:00",
        "Silver → Gold",
        "Set by hand",
        "1 Jan 2028, 00:00",
        "Ann Lee",
        "VIP event",
    ]
    silver.refresh_from_db()
    assert (silver.tier_id, silver.earned_tier_id) == (gold.pk, gold.pk)
    (event,) = AuditEvent.objects.filter(action="tier.set")
    assert (event.actor, event.target_id) == ("77", str(silver.pk))
    assert event.summary == "Gold for customer 501: VIP event"
    assert event.changes == {"earned_tier": ["Silver", "Gold"]}
    audit = client.get("/admin/audit/").content.decode()
    assert "Set a tier by hand: Gold for customer 501: VIP event" in audit


def test_a_double_submit_sets_the_tier_once(client, silver, tiers) -> None:
    data = {
        "tier_set-tier": str(tiers["Gold"].pk),
        "tier_set-reason": "VIP event",
        "tier_set-idempotency_key": "same-render",
    }
    first = post(client, f"/admin/customers/{silver.pk}/tier", data)
    after_first = tier_state(silver)

    second = post(client, f"/admin/customers/{silver.pk}/tier", data)

    assert first.status_code == second.status_code == 200
    assert tier_state(silver) == after_first
    assert "Tier already set" in second["HX-Trigger"]
    assert TierChange.objects.filter(member=silver, reason="manual").count() == 1
    assert AuditEvent.objects.filter(action="tier.set").count() == 1


def test_no_tier_removes_the_earned_tier(client, silver) -> None:
    data = {"tier_set-tier": "none", "tier_set-reason": "Fraud", "tier_set-idempotency_key": "k"}

    response = post(client, f"/admin/customers/{silver.pk}/tier", data)

    assert response.status_code == 200
    silver.refresh_from_db()
    assert (silver.tier_id, silver.earned_tier_id, silver.tier_expires_at) == (None, None, None)
    html = response.content.decode()
    assert fact(html, "beam-tier-now") == "No tier"
    assert table_rows(html, "beam-tier-history-table")[0][1:3] == [
        "Silver → No tier",
        "Set by hand",
    ]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"tier_set-reason": "x"}, "tier", "Choose a tier."),
        ({"tier_set-tier": "{gold}", "tier_set-reason": "  "}, "reason", "Give a reason."),
        (
            {"tier_set-tier": "999999", "tier_set-reason": "x"},
            "tier",
            "Choose one of the program's active tiers.",
        ),
        (
            {"tier_set-tier": "{archived}", "tier_set-reason": "x"},
            "tier",
            "Choose one of the program's active tiers.",
        ),
    ],
)
def test_set_tier_errors_are_shown_on_their_field_and_change_nothing(
    client, silver, tiers, data, field, message
) -> None:
    archived = Tier.objects.create(
        shop=silver.shop, settings=tiers["Gold"].settings, name="Old", rank=5, active=False
    )
    ids = {"gold": tiers["Gold"].pk, "archived": archived.pk}
    data = {k: v.format(**ids) for k, v in data.items()} | {"tier_set-idempotency_key": "k"}
    before = tier_state(silver)

    response = post(client, f"/admin/customers/{silver.pk}/tier", data)

    assert response.status_code == 422
    form = read_page(response.content.decode()).find(id="beam-tier-set")
    assert form.find(data_field=field).find(class_="Polaris-InlineError").text() == message
    assert tier_state(silver) == before


def test_a_post_without_the_session_token_is_refused_and_changes_nothing(
    shop, silver, tiers
) -> None:
    """A cross-site form can send the cookies but never the Authorization header."""
    before = tier_state(silver)
    browser = Client(enforce_csrf_checks=True)
    data = {
        "tier_set-tier": str(tiers["Gold"].pk),
        "tier_set-reason": "x",
        "tier_set-idempotency_key": "k",
    }

    for url, body in (
        (f"/admin/customers/{silver.pk}/tier", data),
        (
            f"/admin/customers/{silver.pk}/tier/grant",
            {"tier_grant-tier": str(tiers["Gold"].pk), "tier_grant-days": "30"},
        ),
    ):
        assert browser.post(url, body).status_code == 401
        assert browser.post(url, body, HTTP_ACCEPT="text/html").status_code == 401

    assert tier_state(silver) == before


def test_the_forms_carry_the_csrf_token_and_a_fresh_key_per_render(client, silver) -> None:
    html = page(client, silver)

    for form_id in ("beam-tier-set", "beam-tier-grant"):
        form = read_page(html).find(id=form_id)
        assert form.find("input", name="csrfmiddlewaretoken").attrs["value"]
    keys = {e["value"] for e in elements(html, name="tier_set-idempotency_key")}
    again = {e["value"] for e in elements(page(client, silver), name="tier_set-idempotency_key")}
    assert len(keys) == 1 and keys != again


# --- grant -----------------------------------------------------------------------------------


def grant_data(tier: Tier, days: str = "30", key: str = "g1", note: str = "") -> dict[str, str]:
    return {
        "tier_grant-tier": str(tier.pk),
        "tier_grant-days": days,
        "tier_grant-note": note,
        "tier_grant-idempotency_key": key,
    }


def test_a_grant_shows_the_tier_until_its_end_and_the_earned_tier_under_it(
    client, silver, tiers
) -> None:
    response = post(
        client, f"/admin/customers/{silver.pk}/tier/grant", grant_data(tiers["Gold"], note="Launch")
    )

    assert response.status_code == 200
    assert "Tier granted" in response["HX-Trigger"]
    html = response.content.decode()
    # 30 days from 2 March 2026 10:00 New York: 1 April 2026, 11:00 (summer time).
    assert fact(html, "beam-tier-now") == "Gold until 1 Apr 2026 Info Granted"
    assert fact(html, "beam-tier-earned") == (
        "Silver until 31 Dec 2027 (in effect again when the grant ends)"
    )
    assert table_rows(html, "beam-tier-history-table")[0] == [
        "2 Mar 2026, 10:00",
        "Silver → Gold",
        "Granted",
        "1 Apr 2026, 11:00",
        "Ann Lee",
        "Launch",
    ]
    silver.refresh_from_db()
    assert silver.tier_id == tiers["Gold"].pk
    assert silver.grant_ends_at == NOW + timedelta(days=30)
    (event,) = AuditEvent.objects.filter(action="tier.grant")
    assert (event.actor, event.target_type, event.target_id) == ("77", "member", str(silver.pk))
    assert event.summary == "Gold for 30 days to customer 501 (Launch)"


def test_a_double_submitted_grant_grants_once(client, silver, tiers) -> None:
    url = f"/admin/customers/{silver.pk}/tier/grant"
    post(client, url, grant_data(tiers["Gold"], key="render-1"))
    after_first = tier_state(silver)

    second = post(client, url, grant_data(tiers["Gold"], key="render-1"))

    assert second.status_code == 200
    assert "Tier already granted" in second["HX-Trigger"]
    assert tier_state(silver) == after_first
    assert TierChange.objects.filter(member=silver, reason="granted").count() == 1


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("0", "A grant lasts 1 to 365 days."),
        ("366", "A grant lasts 1 to 365 days."),
        ("", "Give a number of days."),
        ("ten", "Give a whole number of days."),
    ],
)
def test_grant_days_out_of_range_are_refused(client, silver, tiers, days, message) -> None:
    before = tier_state(silver)

    response = post(
        client, f"/admin/customers/{silver.pk}/tier/grant", grant_data(tiers["Gold"], days=days)
    )

    assert response.status_code == 422
    form = read_page(response.content.decode()).find(id="beam-tier-grant")
    assert form.find(data_field="days").find(class_="Polaris-InlineError").text() == message
    assert tier_state(silver) == before


def test_a_grant_without_a_key_or_with_a_long_note_is_refused(client, silver, tiers) -> None:
    before = tier_state(silver)
    url = f"/admin/customers/{silver.pk}/tier/grant"

    no_key = post(client, url, grant_data(tiers["Gold"], key=""))
    long_note = post(client, url, grant_data(tiers["Gold"], note="x" * 256))

    assert no_key.status_code == long_note.status_code == 422
    assert tier_state(silver) == before


def test_tier_forms_answer_409_while_tiers_are_off(shop, client) -> None:
    member = Member.objects.create(shop=shop, customer_id=7, email="jo@example.com")

    response = post(client, f"/admin/customers/{member.pk}/tier/grant", {"tier_grant-days": "3"})

    assert response.status_code == 409
    assert "Tiers are off" in response.content.decode()
    assert TierChange.objects.count() == 0


# --- shops stay apart ------------------------------------------------------------------------


def test_another_shops_member_or_tier_is_out_of_reach(client, silver, tiers) -> None:
    other = admin_shop(SHOP_B)
    other_tiers = tiers_setup(other)
    stranger = Member.objects.create(shop=other, customer_id=501, email="s@example.com")
    before = tier_state(silver), tier_state(stranger)

    not_found = [
        post(client, f"/admin/customers/{stranger.pk}/tier/grant", grant_data(tiers["Gold"])),
        post(
            client,
            f"/admin/customers/{stranger.pk}/tier",
            {"tier_set-tier": str(tiers["Gold"].pk), "tier_set-reason": "x"},
        ),
    ]
    foreign_tier = post(
        client, f"/admin/customers/{silver.pk}/tier/grant", grant_data(other_tiers["Gold"])
    )

    assert [r.status_code for r in not_found] == [404, 404]
    assert foreign_tier.status_code == 422
    assert (tier_state(silver), tier_state(stranger)) == before


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_each_members_tier_and_filters_by_tier(shop, client, tiers) -> None:
    for customer_id, email in ((1, "a@example.com"), (2, "b@example.com"), (3, "c@example.com")):
        Member.objects.create(shop=shop, customer_id=customer_id, email=email)
    with clock_at(NOW):
        tier_grant(
            shop=shop, customer_ids=[1], tier_id=tiers["Gold"].pk, days=5, actor="1", key="a"
        )
        tier_manual_set(
            shop=shop,
            member_id=Member.objects.get(customer_id=2).pk,
            tier_id=tiers["Silver"].pk,
            actor="1",
            key="b",
        )

    def rows(query: str = "") -> list[tuple[str, str]]:
        html = client.get(f"/admin/customers/{query}").content.decode()
        # the first cell reads "Customer 1" and the email under it
        found = table_rows(html, "beam-members-table")
        return sorted((r[0].removeprefix("Customer ").lstrip("0123456789"), r[1]) for r in found)

    assert rows() == [
        ("a@example.com", "Gold"),
        ("b@example.com", "Silver"),
        ("c@example.com", "—"),
    ]
    assert rows(f"?tier={tiers['Gold'].pk}") == [("a@example.com", "Gold")]
    assert rows("?tier=none") == [("c@example.com", "—")]
    assert rows(f"?tier={tiers['Silver'].pk}&q=b@") == [("b@example.com", "Silver")]
    html = client.get(f"/admin/customers/?tier={tiers['Silver'].pk}&q=a@").content.decode()
    assert "No members match your search" in html
    options = [(o["value"], "selected" in o) for o in elements(html, "option")]
    assert options == [
        ("", False),
        (str(tiers["Gold"].pk), False),
        (str(tiers["Silver"].pk), True),
        ("none", False),
    ]


def test_the_list_ignores_a_tier_filter_of_another_shop(shop, client, tiers) -> None:
    Member.objects.create(shop=shop, customer_id=1, email="a@example.com")
    other_gold = tiers_setup(admin_shop(SHOP_B))["Gold"]

    html = client.get(f"/admin/customers/?tier={other_gold.pk}").content.decode()

    assert [r[1] for r in table_rows(html, "beam-members-table")] == ["—"]


def test_without_tiers_the_list_has_no_tier_column_nor_filter(shop, client) -> None:
    Member.objects.create(shop=shop, customer_id=1, email="a@example.com")

    html = client.get("/admin/customers/").content.decode()

    headings = [th.text() for th in read_page(html).find(id="beam-members-table").find_all("th")]
    assert headings == ["Customer", "Balance", "Lifetime points", "Last activity"]
    assert 'id="beam-member-tier"' not in html and "Grant a tier" not in html


def test_the_list_with_tiers_pages_in_a_constant_number_of_queries(
    shop, client, tiers, django_assert_num_queries
) -> None:
    for i in range(1, 41):
        Member.objects.create(shop=shop, customer_id=i, email=f"c{i}@example.com")
    tier_grant(
        shop=shop,
        customer_ids=list(range(1, 41)),
        tier_id=tiers["Gold"].pk,
        days=5,
        actor="1",
        key="x",
    )

    # shop (token), the tiers, count, page of members with their tier
    with django_assert_num_queries(4):
        html = client.get("/admin/customers/").content.decode()
    assert [r[1] for r in table_rows(html, "beam-members-table")] == ["Gold"] * 25


def test_the_customer_page_with_tiers_reads_a_constant_number_of_queries(
    client, silver, tiers, django_assert_num_queries
) -> None:
    for i in range(20):
        with clock_at(NOW):
            tier_grant(
                shop=silver.shop,
                customer_ids=[501],
                tier_id=tiers["Gold"].pk,
                days=1,
                actor=str(i),
                key=f"g{i}",
            )
    # shop, member, ledger count, ledger page, tier rules, member's sums, tier history count
    # and page, staff names (ledger and history together), redemptions
    with django_assert_num_queries(10):
        html = page(client, silver)
    assert len(table_rows(html, "beam-tier-history-table")) == 21


# --- the title bar ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "email", "title"),
    [
        ("Jane", "Doe", "jane@example.com", "Jane Doe"),
        ("", "", "jane@example.com", "jane@example.com"),
        ("", "", "", "Customer 9"),
    ],
)
def test_the_title_bar_and_the_heading_name_the_customer_alike(
    shop, client, first, last, email, title
) -> None:
    member = Member.objects.create(
        shop=shop, customer_id=9, email=email, first_name=first, last_name=last
    )

    html = page(client, member)

    (bar,) = elements(html, "ui-title-bar")
    assert bar["title"] == title
    assert read_page(html).find("h1").text() == title


def test_the_tier_pages_have_nothing_inline(shop, client, silver) -> None:
    """The CSP forbids inline scripts and styles: every tier part is Polaris markup."""
    pages = [
        client.get(url, htmx=False).content.decode()
        for url in (
            f"/admin/customers/{silver.pk}/",
            "/admin/customers/",
            "/admin/customers/grant-tier",
        )
    ]

    for html in pages:
        assert html.startswith("<!doctype html>")
        assert "<script>" not in html and "style=" not in html
    assert 'id="beam-tier"' in pages[0] and 'id="beam-member-tier"' in pages[1]
