"""Customers in the embedded admin: search, list (query counts), detail with the full
ledger and codes, manual adjustments with a reason, CSV import (preview, per-row errors,
idempotent re-import) and CSV export; webhook health and the audit page."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import AuditEvent, LedgerEntry, LoyaltyProgram, Member, Redemption, Reward
from loyalty.services import points_adjust
from merchants.models import SyncRun, WebhookDelivery
from tests.loyalty.admin_helpers import AdminClient, admin_shop
from tests.loyalty.page_reading import (
    Node,
    cells,
    numeric_cells,
    read_page,
    table_rows,
)

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


@pytest.fixture
def shop():
    shop = admin_shop()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


@pytest.fixture
def client(shop) -> AdminClient:
    return AdminClient(shop, user_id="77")


def member(shop, customer_id: int, email: str, first: str = "", last: str = "", points: int = 0):
    m = Member.objects.create(
        shop=shop,
        customer_id=customer_id,
        email=email,
        first_name=first,
        last_name=last,
        last_activity_at=timezone.now() - timedelta(days=customer_id % 50),
    )
    if points:
        points_adjust(
            shop=shop,
            member=m,
            amount=points,
            reason="seed",
            actor="1",
            idempotency_key=f"seed-{customer_id}",
        )
        m.refresh_from_db()
    return m


def ledger_state(shop) -> tuple[list, int, int]:
    return (
        list(Member.objects.filter(shop=shop).order_by("pk").values_list("pk", "balance")),
        LedgerEntry.objects.filter(shop=shop).count(),
        AuditEvent.objects.filter(shop=shop).count(),
    )


# --- search and list -------------------------------------------------------------------------


def test_search_by_email_name_and_full_name(shop, client) -> None:
    member(shop, 1, "jane@example.com", "Jane", "Doe", points=120)
    member(shop, 2, "john@example.com", "John", "Smith")
    member(shop, 3, "ann@shop.test", "Ann", "Doevall")

    def found(q: str) -> list[str]:
        html = client.get(f"/admin/customers/?q={q}").content.decode()
        return sorted(e for e in ("jane@", "john@", "ann@") if e in html)

    assert found("jane@exa") == ["jane@"]
    assert found("SMITH") == ["john@"]
    assert found("doe") == ["ann@", "jane@"]
    assert found("Jane%20Doe") == ["jane@"]
    assert found("nobody") == []
    html = client.get("/admin/customers/?q=jane").content.decode()
    assert numeric_cells(html).count("120") == 2  # balance and lifetime points


def test_search_box_swaps_only_the_list(shop, client) -> None:
    member(shop, 1, "jane@example.com", "Jane", "Doe")

    response = client.client.get(
        "/admin/customers/?q=jane",
        headers={**client.headers(), "HX-Target": "beam-members"},
    )

    html = response.content.decode()
    swapped = [e for e in read_page(html).children if isinstance(e, Node)]
    assert [e.attrs.get("id") for e in swapped] == ["beam-members"]
    assert 'id="beam-member-q"' not in html  # the search box keeps its focus and text
    assert "jane@example.com" in html


def test_list_pages_with_a_constant_number_of_queries(shop, client) -> None:
    for i in range(1, 4):
        member(shop, i, f"c{i}@example.com")
    with CaptureQueriesContext(connection) as few:
        small = client.get("/admin/customers/")
    for i in range(4, 61):
        member(shop, i, f"c{i}@example.com")
    with CaptureQueriesContext(connection) as many:
        page2 = client.get("/admin/customers/?page=2")

    assert small.status_code == page2.status_code == 200
    # shop (token), the tiers (for the Tier column while tiers are on), count, page of
    # members; the same for 3 or 60 members.
    assert len(few.captured_queries) == 4
    assert len(many.captured_queries) == 4
    html = page2.content.decode()
    assert "Page 2 of 3" in html
    assert html.count("/admin/customers/") >= 25


def test_detail_page_queries_do_not_grow_with_history(shop, client, django_assert_num_queries):
    m = member(shop, 1, "jane@example.com", points=10)
    for i in range(30):
        points_adjust(
            shop=shop, member=m, amount=1, reason=f"r{i}", actor="1", idempotency_key=f"k{i}"
        )
    # shop, member, ledger count, ledger page, tier rules (none: tiers off), staff names,
    # redemptions
    with django_assert_num_queries(7):
        response = client.get(f"/admin/customers/{m.pk}/")
    assert cells(response.content.decode()).count("Adjustment") == 31


# --- detail, adjust --------------------------------------------------------------------------


def _redemption(shop, m, code: str, status: str = "issued") -> Redemption:
    reward = Reward.objects.create(
        shop=shop, name="$5 off", kind="fixed_amount", points_cost=100, value=5
    )
    return Redemption.objects.create(
        shop=shop,
        member=m,
        reward=reward,
        points_spent=100,
        value=Decimal("5"),
        currency="USD",
        code=code,
        status=status,
        discount_id="gid://shopify/DiscountCodeNode/1",
        client_key=code,
        expires_at=timezone.now() + timedelta(days=30),
    )


def test_detail_shows_full_ledger_redemptions_and_codes(shop, client) -> None:
    m = member(shop, 9, "jane@example.com", "Jane", "Doe", points=500)
    points_adjust(shop=shop, member=m, amount=-50, reason="typo", actor="8", idempotency_key="t")
    _redemption(shop, m, "BEAM-ABCD")

    html = client.get(f"/admin/customers/{m.pk}/").content.decode()

    assert "Jane Doe" in html
    assert '<strong id="beam-balance">450</strong>' in html
    # amounts are right-aligned numbers
    assert numeric_cells(html).count("+500") == cells(html).count("+500") == 1
    assert numeric_cells(html).count("-50") == 1
    assert "typo" in html and "seed" in html
    assert "<code>BEAM-ABCD</code>" in html
    assert "Cancel code" in html


def test_adjust_points_with_reason_is_recorded_and_audited(shop, client) -> None:
    m = member(shop, 9, "jane@example.com", points=100)

    response = client.post(
        f"/admin/customers/{m.pk}/adjust",
        {"amount": "25", "reason": "Birthday gift", "idempotency_key": "form-1"},
    )

    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"beam:toast": {"message": "+25 points recorded"}}
    m.refresh_from_db()
    assert m.balance == 125
    entry = LedgerEntry.objects.filter(member=m).latest("pk")
    assert (entry.amount, entry.kind, entry.note, entry.actor) == (
        25,
        "manual",
        "Birthday gift",
        "77",
    )
    event = AuditEvent.objects.get(shop=shop, action="points.adjust")
    assert event.actor == "77"
    assert event.changes == {"balance": [100, 125]}
    assert '<strong id="beam-balance">125</strong>' in response.content.decode()
    # A double submit of the same form moves points once and audits once.
    client.post(
        f"/admin/customers/{m.pk}/adjust",
        {"amount": "25", "reason": "Birthday gift", "idempotency_key": "form-1"},
    )
    m.refresh_from_db()
    assert m.balance == 125
    assert AuditEvent.objects.filter(shop=shop, action="points.adjust").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "10", "reason": "  "}, "Give a reason."),
        ({"amount": "10"}, "Give a reason."),
        ({"amount": "0", "reason": "x"}, "Give a number of points other than 0."),
        ({"amount": "1.5", "reason": "x"}, "Enter a whole number."),
        ({"amount": "-101", "reason": "x"}, "Not enough points to deduct: The balance is 100"),
    ],
)
def test_adjust_errors_change_nothing(shop, client, data, message) -> None:
    m = member(shop, 9, "jane@example.com", points=100)
    before = ledger_state(shop)

    response = client.post(f"/admin/customers/{m.pk}/adjust", {"idempotency_key": "f", **data})

    assert response.status_code == 422
    assert message in response.content.decode()
    assert ledger_state(shop) == before


def test_cancel_an_issued_code_in_the_store_refunds_and_audits(
    django_capture_on_commit_callbacks,
) -> None:
    """Against the devstore: the code is really created, then deactivated by the cancel."""
    from django.conf import settings

    from devstore import services as store
    from devstore.models import DevAppToken, DevDiscountCode
    from loyalty.services import reward_redeem

    domain = "cancel-admin.myshopify.com"
    dev_shop = store.shop_create(domain, name="Cancel Admin", currency="USD")
    customer = store.customer_create(dev_shop, "jane@example.com", "Jane", "Doe")
    token = DevAppToken.objects.create(
        shop=dev_shop,
        access_token="shpat_cancel_admin",
        expires_at=timezone.now() + timedelta(hours=1),
        scopes=settings.SHOPIFY_SCOPES,
    )
    shop = admin_shop(domain, access_token_expires_at=token.expires_at)
    shop.access_token = token.access_token
    shop.save()
    m = member(shop, customer.id, "jane@example.com", points=600)
    reward = Reward.objects.create(
        shop=shop, name="$5 off", kind="fixed_amount", points_cost=500, value=5
    )
    with django_capture_on_commit_callbacks(execute=True):
        redemption = reward_redeem(
            shop=shop, member_id=m.pk, reward_id=reward.pk, client_key="admin-test"
        )
    redemption.refresh_from_db()
    assert redemption.status == "issued"
    client = AdminClient(shop, user_id="77")
    page = client.get(f"/admin/customers/{m.pk}/").content.decode()
    assert f"<code>{redemption.code}</code>" in page

    response = client.post(f"/admin/customers/{m.pk}/redemptions/{redemption.pk}/cancel")

    assert response.status_code == 200
    redemption.refresh_from_db()
    m.refresh_from_db()
    assert redemption.status == "cancelled"
    assert m.balance == 600
    code = DevDiscountCode.objects.get(shop=dev_shop, code_key=redemption.code.upper())
    assert store.discount_code_status(code) != "ACTIVE"
    assert AuditEvent.objects.get(shop=shop, action="redemption.cancel").actor == "77"
    again = client.post(f"/admin/customers/{m.pk}/redemptions/{redemption.pk}/cancel")
    assert again.status_code == 409
    assert "Only an issued, unused redemption can be cancelled." in again.content.decode()
    m.refresh_from_db()
    assert m.balance == 600


# --- import and export -----------------------------------------------------------------------

CSV_ONE_BAD_ROW = (
    "customer_id,email,first_name,last_name,points\n"
    "1001,ann@example.com,Ann,Lee,250\n"
    "abc,bad@example.com,Bad,Row,10\n"
    "1002,bo@example.com,Bo,,0\n"
    "1003,not-an-email,Cy,,5\n"
)


def _upload(client, text: str, name: str = "balances.csv"):
    return client.post(
        "/admin/customers/import",
        {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")},
    )


def test_import_preview_shows_row_errors_and_writes_nothing(shop, client) -> None:
    member(shop, 1002, "bo@example.com", points=40)
    before = ledger_state(shop)

    response = _upload(client, CSV_ONE_BAD_ROW)

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 new, 0 changed, 1 unchanged, <strong>2 with errors</strong>" in html
    assert "customer_id must be a positive whole number" in html
    assert "email is not valid" in html
    assert len(read_page(html).find_all("tr", class_="beam-row-error")) == 2
    assert ledger_state(shop) == before


def test_import_applies_valid_rows_and_reimport_changes_nothing(shop, client) -> None:
    preview = _upload(client, CSV_ONE_BAD_ROW).content.decode()
    assert 'name="csv_text"' in preview

    applied = client.post("/admin/customers/import/apply", {"csv_text": CSV_ONE_BAD_ROW})

    html = applied.content.decode()
    assert "4 row(s): 2 new, 0 changed, 0 unchanged, 2 not imported." in html
    assert "Line 3: customer_id must be a positive whole number" in html
    assert "Line 5: email is not valid" in html
    assert dict(Member.objects.filter(shop=shop).values_list("customer_id", "balance")) == {
        1001: 250,
        1002: 0,
    }
    state = ledger_state(shop)
    assert state[2] == 1  # one audit row for the run
    event = AuditEvent.objects.get(shop=shop, action="members.import")
    assert event.actor == "77"
    again = client.post("/admin/customers/import/apply", {"csv_text": CSV_ONE_BAD_ROW})
    assert "2 unchanged" in again.content.decode()
    assert ledger_state(shop)[:2] == state[:2]
    assert _upload(client, CSV_ONE_BAD_ROW).content.decode().count("Unchanged") == 2


CSV_PAST_THE_COLUMNS = (
    "customer_id,email,first_name,last_name,points\n"
    "1001,ann@example.com,Ann,Lee,99999999999\n"
    "99999999999999999999999,big@example.com,Big,Id,10\n"
    "1002,bo@example.com,B\x00o,Lee,7\n"
    f"1003,cy@example.com,{'C' * 256},,5\n"
)


def test_import_preview_refuses_values_past_their_columns(shop, client) -> None:
    response = _upload(client, CSV_PAST_THE_COLUMNS)
    apply_text = CSV_PAST_THE_COLUMNS.replace("\x00", "")

    html = response.content.decode()
    assert response.status_code == 200
    assert "1 new, 0 changed, 0 unchanged, <strong>3 with errors</strong>" in html
    assert "points must be a whole number &gt;= 0, at most 1,000,000,000" in html
    assert "customer_id must be a positive whole number, at most 9223372036854775807" in html
    assert "names are at most 255 characters" in html
    assert f'value="{apply_text}"' in html.replace("&#x27;", "'")
    assert not Member.objects.filter(shop=shop).exists()


def test_import_apply_reports_values_past_their_columns_and_writes_only_valid_rows(
    shop, client
) -> None:
    csv_text = CSV_PAST_THE_COLUMNS.replace("\x00", "")

    applied = client.post("/admin/customers/import/apply", {"csv_text": csv_text})

    html = applied.content.decode()
    assert applied.status_code == 200
    assert "4 row(s): 1 new, 0 changed, 0 unchanged, 3 not imported." in html
    assert "Line 2: points must be a whole number &gt;= 0, at most 1,000,000,000" in html
    assert "Line 3: customer_id must be a positive whole number" in html
    assert "Line 5: names are at most 255 characters" in html
    assert list(
        Member.objects.filter(shop=shop).values_list("customer_id", "first_name", "balance")
    ) == [(1002, "Bo", 7)]


def test_import_apply_refuses_a_nul_character_and_writes_nothing(shop, client) -> None:
    before = ledger_state(shop)

    applied = client.post("/admin/customers/import/apply", {"csv_text": CSV_PAST_THE_COLUMNS})

    assert applied.status_code == 422
    assert "not valid (Null characters are not allowed.)" in applied.content.decode()
    assert ledger_state(shop) == before
    assert not Member.objects.filter(shop=shop).exists()


@pytest.mark.parametrize("q", ["\x00", "ann\x00", "99999999999999999999999", "\u00b2"])
def test_search_with_nul_or_digits_past_a_customer_id_is_an_empty_page(shop, client, q) -> None:
    member(shop, 1001, "ann@example.com")

    response = client.get("/admin/customers/", data={"q": q}, htmx=False)

    assert response.status_code == 200
    html = response.content.decode()
    assert ("ann@example.com" in html) == q.startswith(("\x00", "ann"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Choose a CSV file."),
        (b"\xff\xfe\x00bad", "The file is not UTF-8 text."),
        (b"email,points\nx@y.z,3\n", "missing column(s): customer_id"),
    ],
)
def test_import_upload_errors(shop, client, content, message) -> None:
    data = {} if content is None else {"file": SimpleUploadedFile("f.csv", content)}
    response = client.post("/admin/customers/import", data)

    assert message in response.content.decode()
    assert Member.objects.filter(shop=shop).count() == 0


def test_export_members_and_ledger_csv(shop, client) -> None:
    m = member(shop, 5, "=cmd@example.com", "Eve", "", points=30)

    members = client.get("/admin/customers/export/members.csv")
    ledger = client.get("/admin/customers/export/ledger.csv")

    assert members["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="acme.myshopify.com-members.csv"' in members["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(members.content.decode())))
    assert rows[0][:5] == ["customer_id", "email", "first_name", "last_name", "points"]
    assert rows[1][:5] == ["5", "'=cmd@example.com", "Eve", "", "30"]
    ledger_rows = list(csv.reader(io.StringIO(ledger.content.decode())))
    assert ledger_rows[1][2:5] == [str(m.customer_id), "30", "manual"]


# --- webhook health and audit -----------------------------------------------------------------


def test_webhook_health_per_topic_failures_and_last_run(shop, client) -> None:
    WebhookDelivery.objects.create(
        shop=shop, webhook_id="w1", topic="orders/paid", payload={}, status="succeeded"
    )
    WebhookDelivery.objects.create(
        shop=shop,
        webhook_id="w2",
        topic="refunds/create",
        payload={},
        status="failed",
        attempts=5,
        last_error="KeyError: 'refund_line_items'",
    )
    SyncRun.objects.create(shop=shop, status="succeeded", orders_seen=12, orders_fed=2)

    html = client.get("/admin/webhooks/").content.decode()

    assert "<code>orders/paid</code>" in html and "1 succeeded" in html
    assert "<code>refunds/create</code>" in html and "1 failed" in html
    assert "KeyError: &#x27;refund_line_items&#x27;" in html
    assert "12 orders checked, 2 recovered" in html


def test_webhook_health_lists_every_delivery_not_done(shop, client) -> None:
    for webhook_id, status in [
        ("w-done", "succeeded"),
        ("w-skipped", "skipped"),
        ("w-waiting", "received"),
        ("w-leased", "processing"),
        ("w-parked", "failed"),
    ]:
        WebhookDelivery.objects.create(
            shop=shop, webhook_id=webhook_id, topic="orders/paid", payload={}, status=status
        )

    html = client.get("/admin/webhooks/").content.decode()
    not_done = html[html.index('id="beam-failures"') : html.index("Recent deliveries by topic")]

    assert len(table_rows(html, "beam-not-done")) == 3
    assert ">Received</span>" in not_done
    assert ">Processing</span>" in not_done
    assert ">Failed</span>" in not_done
    assert "Succeeded" not in not_done and "Skipped" not in not_done
    assert not_done.count('name="delivery_id"') == 2  # a leased delivery is not replayed
    assert "Replay all" in not_done


def test_webhook_health_with_every_delivery_done(shop, client) -> None:
    WebhookDelivery.objects.create(
        shop=shop, webhook_id="w1", topic="orders/paid", payload={}, status="succeeded"
    )

    html = client.get("/admin/webhooks/").content.decode()

    assert "Every delivery is done." in html
    assert "Replay all" not in html


def test_replay_button_processes_a_failed_delivery_again(shop, client) -> None:
    payload = json.loads((FIXTURES / "customers_create.json").read_text())
    delivery = WebhookDelivery.objects.create(
        shop=shop,
        webhook_id="w9",
        topic="customers/create",
        payload=payload,
        status="failed",
        attempts=5,
        last_error="boom",
    )

    response = client.post("/admin/webhooks/replay", {"delivery_id": str(delivery.pk)})

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert Member.objects.filter(shop=shop, customer_id=payload["id"]).exists()
    assert "Replayed: 1 succeeded." in response.content.decode()
    event = AuditEvent.objects.get(shop=shop, action="webhooks.replay")
    assert (event.actor, event.target_id) == ("77", str(delivery.pk))


def test_audit_page_lists_who_did_what_when(shop, client) -> None:
    client.post("/admin/program/toggle", {"enabled": "0"})

    html = client.get("/admin/audit/").content.decode()

    assert cells(html).count("Staff member 77") == 1  # a staff member Beam has no name for
    assert cells(html).count("Turned the program off") == 1
    assert "<li>Program: on → off</li>" in html
    assert "program.disable" not in html and "True" not in html


def test_audit_page_names_the_staff_member_the_platform_named(shop, client) -> None:
    from merchants.models import StaffMember

    StaffMember.objects.create(shop=shop, user_id="77", first_name="Ann", last_name="Lee")
    client.post("/admin/program/toggle", {"enabled": "0"})

    html = client.get("/admin/audit/").content.decode()

    assert cells(html).count("Ann Lee") == 1


def _rewards(shop, n: int) -> None:
    for i in range(n):
        Reward.objects.create(
            shop=shop, name=f"R{i}", kind="fixed_amount", points_cost=100 + i, value=1
        )


@pytest.mark.parametrize(
    ("url", "grow", "queries"),
    [
        # shop (token), rewards with their issued counts
        ("/admin/rewards/", _rewards, 2),
        # shop (token), count, page, staff names
        (
            "/admin/audit/",
            lambda shop, n: [
                AuditEvent.objects.create(shop=shop, actor="1", action="x") for _ in range(n)
            ],
            4,
        ),
        # shop (token), counts per topic and status, recent deliveries, failures, last run
        (
            "/admin/webhooks/",
            lambda shop, n: [
                WebhookDelivery.objects.create(
                    shop=shop, webhook_id=f"q{n}-{i}", topic=f"t/{i % 3}", payload={}
                )
                for i in range(n)
            ],
            5,
        ),
    ],
)
def test_list_pages_have_constant_query_counts(shop, client, url, grow, queries) -> None:
    grow(shop, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    grow(shop, 40)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200

    assert len(few.captured_queries) == len(many.captured_queries) == queries


def test_recent_deliveries_are_listed_for_every_topic(shop, client) -> None:
    for i in range(3):
        WebhookDelivery.objects.create(
            shop=shop, webhook_id=f"old-{i}", topic="customers/create", payload={}
        )
    for i in range(250):
        WebhookDelivery.objects.create(
            shop=shop, webhook_id=f"new-{i}", topic="orders/paid", payload={}
        )

    html = client.get("/admin/webhooks/").content.decode()

    recent = html.split("Recent deliveries by topic")[1]
    sections = recent.split("<code>customers/create</code>")[1].split("<code>orders/paid</code>")
    assert sections[0].count("<li>") == 3
    assert sections[1].split("</section>")[0].count("<li>") == 5


def test_import_preview_predicts_what_the_import_does(shop, client) -> None:
    """Repeated customers in one file and a lowering the balance cannot cover."""
    spender = member(shop, 2001, "spender@example.com")
    client.post("/admin/customers/import/apply", {"csv_text": "customer_id,points\n2001,100\n"})
    points_adjust(
        shop=shop, member=spender, amount=-80, reason="spent", actor="1", idempotency_key="sp"
    )
    text = "customer_id,points\n3001,100\n3001,150\n2001,0\n2001,100\n"

    preview = client.post(
        "/admin/customers/import",
        {"file": SimpleUploadedFile("f.csv", text.encode(), content_type="text/csv")},
    ).content.decode()
    applied = client.post("/admin/customers/import/apply", {"csv_text": text}).content.decode()

    assert "1 new, 1 changed, 1 unchanged, <strong>1 with errors</strong>" in preview
    assert "lowering the imported points by 100 would overdraw the balance" in preview
    assert "4 row(s): 1 new, 1 changed, 1 unchanged, 1 not imported." in applied
    assert "Line 4: lowering the imported points by 100 would overdraw the balance" in applied
    assert Member.objects.get(shop=shop, customer_id=3001).balance == 150
    assert Member.objects.get(shop=shop, customer_id=2001).balance == 20
