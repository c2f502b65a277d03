"""Customers, "Grant a tier": a CSV of customer ids or emails, a tier and a number of days;
the preview counts the members it matches and lists the lines it does not (with why) and
writes nothing; the apply grants through ``tier_grant``, once per preview, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from devstore.clock import clock_at
from loyalty.models import AuditEvent, LoyaltyProgram, Member, Tier, TierChange
from loyalty.services.tier_grants import GRANT_LIST_MAX_ROWS, tier_grant_list_read
from tests.loyalty.admin_helpers import SHOP_B, AdminClient, admin_shop, elements
from tests.loyalty.page_reading import links_to, read_page, table_rows
from tests.loyalty.tier_helpers import tiers_setup

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
URL = "/admin/customers/grant-tier"


@pytest.fixture
def shop():
    shop = admin_shop()
    LoyaltyProgram.objects.create(shop=shop)
    return shop


@pytest.fixture
def client(shop) -> AdminClient:
    return AdminClient(shop, user_id="77")


@pytest.fixture
def tiers(shop) -> dict[str, Tier]:
    return tiers_setup(shop)


@pytest.fixture
def members(shop) -> list[Member]:
    people = [(11, "ann@example.com"), (12, "bob@example.com"), (13, "cy@example.com")]
    found = [Member.objects.create(shop=shop, customer_id=c, email=e) for c, e in people]
    Member.objects.create(shop=shop, customer_id=14, email="twin@example.com")
    Member.objects.create(shop=shop, customer_id=15, email="twin@example.com")
    Member.objects.create(shop=shop, customer_id=16, email="gone@example.com", redacted=True)
    return found


CSV = "\n".join(
    [
        "11",  # Ann by id
        "BOB@example.com",  # Bob by email, any case
        "12",  # Bob again
        "99",  # nobody
        "nobody@example.com",
        "twin@example.com",  # two members
        "16",  # erased
        "hello",
        "",  # a blank line is no line
        "13",
    ]
)


def upload(text: str, name: str = "list.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def preview(client: AdminClient, tier: Tier, text: str = CSV, days: str = "30", note: str = ""):
    body = {"file": upload(text), "tier": str(tier.pk), "days": days, "note": note}
    return client.post(URL, body)


def apply_fields(html: str) -> dict[str, str]:
    form = read_page(html).find(id="beam-grant-apply")
    return {
        str(i.attrs["name"]): str(i.attrs.get("value") or "")
        for i in form.find_all("input")
        if i.attrs.get("type") == "hidden" and i.attrs["name"] != "csrfmiddlewaretoken"
    } | {"csv_text": _csv_text(form)}


def _csv_text(form) -> str:
    (field,) = [i for i in form.find_all("input") if i.attrs.get("name") == "csv_text"]
    return str(field.attrs["value"])


def state(shop) -> tuple:
    return (
        list(
            Member.objects.filter(shop=shop)
            .order_by("pk")
            .values_list("tier_id", "granted_tier_id", "grant_ends_at")
        ),
        TierChange.objects.filter(shop=shop).count(),
        AuditEvent.objects.filter(shop=shop).count(),
    )


def test_the_customers_page_links_to_the_grant_page_while_tiers_are_on(client, tiers) -> None:
    html = client.get("/admin/customers/").content.decode()

    (link,) = links_to(html, URL)
    assert link.text() == "Grant a tier" and link.attrs["hx-get"] == URL
    page = client.get(URL).content.decode()
    assert read_page(page).find("h1").text() == "Grant a tier"
    assert [o["value"] for o in elements(page, "option")] == [
        str(tiers["Gold"].pk),
        str(tiers["Silver"].pk),
    ]


def test_the_preview_counts_matches_and_lists_unknown_lines_and_writes_nothing(
    shop, client, tiers, members
) -> None:
    before = state(shop)

    response = preview(client, tiers["Gold"])

    assert response.status_code == 200
    html = response.content.decode()
    counts = read_page(html).find(id="beam-grant-counts").text()
    assert counts == (
        "3 of 9 lines match a customer: they get Gold for 30 days. 6 lines will be skipped."
    )
    assert table_rows(html, "beam-grant-unknown") == [
        ["3", "12", "the same customer as line 2"],
        ["4", "99", "no member has this customer id"],
        ["5", "nobody@example.com", "no member has this email"],
        ["6", "twin@example.com", "more than one member has this email; use the customer id"],
        ["7", "16", "no member has this customer id"],
        ["8", "hello", "not a customer id or an email"],
    ]
    assert "Grant Gold to 3 customers" in html
    assert state(shop) == before


def test_apply_grants_to_the_matched_members_reports_and_audits(
    shop, client, tiers, members
) -> None:
    fields = apply_fields(preview(client, tiers["Gold"], note="Spring VIP").content.decode())

    with clock_at(NOW):
        response = client.post(f"{URL}/apply", fields)

    assert response.status_code == 200
    assert "Tier granted to 3 customers" in response["HX-Trigger"]
    report = read_page(response.content.decode()).find(id="beam-grant-report").text()
    assert "Gold for 30 days: granted to 3 customers, 6 lines not matched." in report
    granted = Member.objects.filter(shop=shop, granted_tier=tiers["Gold"])
    assert sorted(granted.values_list("customer_id", flat=True)) == [11, 12, 13]
    assert {m.grant_ends_at for m in granted} == {NOW + timedelta(days=30)}
    assert set(granted.values_list("tier_id", flat=True)) == {tiers["Gold"].pk}
    changes = TierChange.objects.filter(shop=shop, reason="granted")
    assert set(changes.values_list("note", "actor")) == {("Spring VIP", "77")}
    (event,) = AuditEvent.objects.filter(shop=shop, action="tier.grant")
    assert (event.actor, event.target_type) == ("77", "members")
    assert event.summary == "Gold for 30 days to 3 customers (Spring VIP)"


def test_applying_the_same_preview_twice_grants_once(shop, client, tiers, members) -> None:
    fields = apply_fields(preview(client, tiers["Gold"]).content.decode())
    client.post(f"{URL}/apply", fields)
    after_first = state(shop)

    again = client.post(f"{URL}/apply", fields)

    assert again.status_code == 200
    report = read_page(again.content.decode()).find(id="beam-grant-report").text()
    assert "granted to 0 customers, 3 already had this grant" in report
    assert state(shop) == after_first


def test_a_new_preview_is_a_new_grant(shop, client, tiers, members) -> None:
    first = apply_fields(preview(client, tiers["Gold"]).content.decode())
    second = apply_fields(preview(client, tiers["Gold"]).content.decode())

    assert first["idempotency_key"] != second["idempotency_key"]
    client.post(f"{URL}/apply", first)
    client.post(f"{URL}/apply", second)

    assert TierChange.objects.filter(shop=shop, reason="granted").count() == 6


def test_a_header_row_names_the_columns(shop, client, tiers, members) -> None:
    text = "email,customer_id,name\nann@example.com,,Ann\n,12,Bob\ncy@example.com,13,Cy\n"

    names = tier_grant_list_read(shop=shop, csv_text=text)

    assert (names.customer_ids, names.unknown, names.rows) == ([11, 12, 13], [], 3)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"tier": "{gold}", "days": "30"}, "file", "Choose a CSV file."),
        ({"file": "", "tier": "{gold}", "days": "30"}, "file", "The submitted file is empty."),
        ({"file": "11\n", "tier": "{gold}", "days": "0"}, "days", "A grant lasts 1 to 365 days."),
        ({"file": "11\n", "days": "30"}, "tier", "Choose a tier."),
        (
            {"file": "11\n", "tier": "{foreign}", "days": "30"},
            "tier",
            "Choose one of the program's active tiers.",
        ),
        (
            {"file": "customer_id\n", "tier": "{gold}", "days": "30"},
            "file",
            "The file names no customer.",
        ),
        (
            {"file": b"\xff\xfe1", "tier": "{gold}", "days": "30"},
            "file",
            "The file is not UTF-8 text.",
        ),
    ],
)
def test_upload_errors_are_shown_on_their_field_and_write_nothing(
    shop, client, tiers, members, body, field, message
) -> None:
    ids = {"gold": tiers["Gold"].pk, "foreign": tiers_setup(admin_shop(SHOP_B))["Gold"].pk}
    data = {
        k: v.format(**ids) if isinstance(v, str) and k != "file" else v for k, v in body.items()
    }
    if "file" in data:
        content = data["file"] if isinstance(data["file"], bytes) else data["file"].encode()
        data["file"] = SimpleUploadedFile("list.csv", content, content_type="text/csv")
    before = state(shop)

    response = client.post(URL, data)

    assert response.status_code == 422
    found = read_page(response.content.decode()).find(data_field=field)
    assert found.find(class_="Polaris-InlineError").text() == message
    assert 'id="beam-grant-preview"' not in response.content.decode()
    assert state(shop) == before


def test_a_file_past_the_size_or_row_limit_is_refused(shop, client, tiers) -> None:
    big = "1\n" * (1024 * 1024 + 1)  # just over 2 MB
    many = "".join(f"{i}\n" for i in range(1, GRANT_LIST_MAX_ROWS + 2))

    too_big = preview(client, tiers["Gold"], text=big)
    too_many = preview(client, tiers["Gold"], text=many)

    assert too_big.status_code == too_many.status_code == 422
    assert "The file is larger than 2 MB; split it." in too_big.content.decode()
    assert "The file has more than 20,000 customers; split it." in too_many.content.decode()


def test_a_tampered_or_incomplete_apply_is_refused_and_writes_nothing(
    shop, client, tiers, members
) -> None:
    fields = apply_fields(preview(client, tiers["Gold"]).content.decode())
    before = state(shop)
    archived = Tier.objects.create(
        shop=shop, settings=tiers["Gold"].settings, name="Old", rank=9, active=False
    )

    answers = [
        client.post(f"{URL}/apply", fields | {"tier": str(archived.pk)}),
        client.post(f"{URL}/apply", fields | {"days": "400"}),
        client.post(f"{URL}/apply", {k: v for k, v in fields.items() if k != "idempotency_key"}),
        client.post(f"{URL}/apply", {k: v for k, v in fields.items() if k != "csv_text"}),
    ]

    assert [a.status_code for a in answers] == [422] * 4
    assert 'id="beam-grant-apply-error"' in answers[0].content.decode()
    assert state(shop) == before


def test_the_list_is_matched_within_the_shop_only(shop, client, tiers, members) -> None:
    other = admin_shop(SHOP_B)
    Member.objects.create(shop=other, customer_id=77, email="elsewhere@example.com")

    html = preview(client, tiers["Gold"], text="77\nelsewhere@example.com\n11\n").content.decode()

    assert read_page(html).find(id="beam-grant-counts").text().startswith("1 of 3 lines")
    assert [r[2] for r in table_rows(html, "beam-grant-unknown")] == [
        "no member has this customer id",
        "no member has this email",
    ]


def test_without_tiers_the_page_says_so_and_apply_is_refused(shop, client) -> None:
    Member.objects.create(shop=shop, customer_id=11, email="ann@example.com")

    page = client.get(URL)
    applied = client.post(
        f"{URL}/apply", {"csv_text": "11", "tier": "1", "days": "3", "idempotency_key": "k"}
    )

    assert page.status_code == 200 and "Tiers are off" in page.content.decode()
    assert applied.status_code == 409
    assert TierChange.objects.count() == 0


def test_without_the_session_token_nothing_is_granted(shop, tiers, members) -> None:
    browser = Client(enforce_csrf_checks=True)
    body = {"csv_text": "11", "tier": str(tiers["Gold"].pk), "days": "3", "idempotency_key": "k"}

    assert browser.post(f"{URL}/apply", body).status_code == 401
    assert TierChange.objects.count() == 0
