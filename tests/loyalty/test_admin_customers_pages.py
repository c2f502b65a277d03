"""What the customers, audit and webhook health pages show around their lists: an empty state
for every list that has no rows (a search that finds nobody says so, distinctly), page links
that keep the search and nothing else of the address, the back action, the section tabs, the
exports as downloads and the webhook summary."""

from __future__ import annotations

import pytest

from loyalty.models import AuditEvent, LoyaltyProgram, Member
from loyalty.services import points_adjust
from merchants.models import WebhookDelivery
from tests.loyalty.admin_helpers import AdminClient, admin_shop
from tests.loyalty.page_reading import kpi, links_to, read_page, table_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    shop = admin_shop()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


@pytest.fixture
def client(shop) -> AdminClient:
    return AdminClient(shop, user_id="77")


def members(shop, n: int) -> list[Member]:
    return [
        Member.objects.create(shop=shop, customer_id=i, email=f"c{i}@example.com")
        for i in range(1, n + 1)
    ]


def test_no_members_yet_is_an_empty_state_that_offers_an_import(client) -> None:
    html = client.get("/admin/customers/").content.decode()

    assert "No members yet" in html
    assert "No members match" not in html
    assert "<table" not in html
    # the header's action and the empty state's
    imports = links_to(html, "/admin/customers/import")
    assert [a.text() for a in imports] == ["Import balances", "Import balances"]


@pytest.mark.parametrize("hx_target", ["beam-main", "beam-members"])
def test_a_search_that_finds_nobody_says_so_and_offers_to_clear_it(shop, client, hx_target) -> None:
    members(shop, 2)

    response = client.client.get(
        "/admin/customers/?q=nobody", headers={**client.headers(), "HX-Target": hx_target}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "No members match your search" in html
    assert "No customer matches “nobody”." in html
    assert "No members yet" not in html and "<table" not in html
    assert [a.text() for a in links_to(html, "/admin/customers/")] == ["Clear search"]


def test_member_pages_link_with_the_search_and_swap_only_the_list(shop, client) -> None:
    members(shop, 30)

    html = client.get("/admin/customers/?q=example&page=1&host=YWRtaW4").content.decode()

    assert len(table_rows(html, "beam-members-table")) == 25
    assert "Page 1 of 2" in html
    (following,) = links_to(html, "/admin/customers/?q=example&page=2")
    assert following.attrs["rel"] == "next" and following.attrs["aria-label"] == "Next"
    assert following.attrs["hx-get"] == "/admin/customers/?q=example&page=2"
    assert (following.attrs["hx-target"], following.attrs["hx-swap"]) == (
        "#beam-members",
        "outerHTML",
    )
    assert "host=" not in html.split('id="beam-members"')[1]
    second = client.get("/admin/customers/?q=example&page=2").content.decode()
    assert len(table_rows(second, "beam-members-table")) == 5
    (previous,) = links_to(second, "/admin/customers/?q=example&page=1")
    assert previous.attrs["rel"] == "prev"
    assert not links_to(second, "/admin/customers/?q=example&page=3")


def test_the_exports_are_downloads(client) -> None:
    html = client.get("/admin/customers/").content.decode()

    for href, label in [
        ("/admin/customers/export/members.csv", "Export members"),
        ("/admin/customers/export/ledger.csv", "Export ledger"),
    ]:
        (link,) = links_to(html, href)
        assert link.text() == label
        assert "download" in link.attrs and "hx-get" not in link.attrs


def test_a_customer_page_goes_back_to_customers_and_pages_its_history(shop, client) -> None:
    (member,) = members(shop, 1)
    for i in range(55):
        points_adjust(
            shop=shop, member=member, amount=1, reason=f"r{i}", actor="1", idempotency_key=f"k{i}"
        )
    url = f"/admin/customers/{member.pk}/"

    html = client.get(url).content.decode()

    (back,) = links_to(html, "/admin/customers/")
    assert back.attrs["aria-label"] == "Customers" and back.attrs["hx-get"] == "/admin/customers/"
    assert read_page(html).find("h1").text() == "c1@example.com"  # no name: the email
    assert "Page 1 of 2" in html
    (older,) = links_to(html, f"{url}?page=2")
    assert (older.attrs["rel"], older.attrs["hx-target"]) == ("next", "#beam-main")
    page2 = client.get(f"{url}?page=2").content.decode()
    assert len(table_rows(page2, "beam-ledger")) == 5
    assert links_to(page2, f"{url}?page=1")[0].attrs["rel"] == "prev"


def test_a_new_member_has_empty_states_for_codes_and_history(shop, client) -> None:
    (member,) = members(shop, 1)

    html = client.get(f"/admin/customers/{member.pk}/").content.decode()

    assert "No rewards redeemed yet" in html
    assert "No points movements yet" in html
    assert "<table" not in html
    assert 'id="beam-adjust"' in html and "Record adjustment" in html


def _current_tab(html: str) -> list[str]:
    return [
        a.text()
        for href in ("/admin/webhooks/", "/admin/audit/", "/admin/welcome/")
        for a in links_to(html, href)
        if a.attrs.get("aria-current") == "page"
    ]


def test_audit_trail_is_a_tab_of_its_section_with_an_empty_state_and_pages(shop, client) -> None:
    empty = client.get("/admin/audit/").content.decode()

    assert "No changes recorded yet" in empty and "<table" not in empty
    assert _current_tab(empty) == ["Audit trail"]
    assert [a.text() for a in links_to(empty, "/admin/webhooks/")] == ["Webhook health"]
    AuditEvent.objects.bulk_create(
        [AuditEvent(shop=shop, actor="1", action="x") for _ in range(51)]
    )
    full = client.get("/admin/audit/").content.decode()
    assert len(table_rows(full, "beam-audit")) == 50 and "Page 1 of 2" in full
    assert links_to(full, "/admin/audit/?page=2")[0].attrs["rel"] == "next"


SUMMARY = ("deliveries", "done", "waiting", "failed")


def test_webhook_health_sums_up_and_says_when_nothing_failed(shop, client) -> None:
    empty = client.get("/admin/webhooks/").content.decode()
    assert "No failed deliveries" in empty and "No webhook deliveries yet" in empty
    assert _current_tab(empty) == ["Webhook health"]
    assert [kpi(empty, name) for name in SUMMARY] == [["0"], ["0"], ["0"], ["0"]]
    for i, status in enumerate(
        ["succeeded", "skipped", "received", "processing", "failed", "unprocessable"]
    ):
        WebhookDelivery.objects.create(
            shop=shop, webhook_id=f"w{i}", topic="orders/paid", payload={}, status=status
        )

    html = client.get("/admin/webhooks/").content.decode()

    assert [kpi(html, name) for name in SUMMARY] == [["6"], ["2"], ["2"], ["2"]]
    assert "No failed deliveries" not in html
    rows = table_rows(html, "beam-not-done")
    assert [row[2] for row in rows] == [  # a badge's tone is read out before its word
        "Attention Received",
        "Info Processing",
        "Critical Failed",
        "Critical Unprocessable",
    ]
    assert [row[-1] for row in rows] == ["Replay", "", "Replay", "Replay"]  # not while processing
