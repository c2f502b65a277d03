"""The customer account's "Show more" through /ext/: the history answers the newest points
entries and tier changes with the cursor of the older ones, and the page endpoints walk
back to the first, each row once, in the history's order; bad cursors and limits are a
400 with the reason; a customer only ever pages through their own rows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from devstore import services as store
from loyalty.models import LedgerEntry, Member, TierChange
from loyalty.services import points_adjust
from tests.loyalty.factories import ProgramFactory
from tests.storefront_widget.extension_helpers import bearer, devstore_with_beam

pytestmark = pytest.mark.django_db

ENTRIES = "/ext/customer/history/entries"
CHANGES = "/ext/customer/history/tier-changes"


@pytest.fixture
def shop(settings: Any) -> Any:
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, shop = devstore_with_beam()
    ProgramFactory(shop=shop, points_per_currency_unit=Decimal("1"))
    shop.dev_shop = dev_shop
    return shop


def _customer(shop: Any, email: str, capture: Any) -> Member:
    with capture(execute=True):
        customer = store.customer_create(shop.dev_shop, email, email.split("@")[0].title())
    return Member.objects.get(shop=shop, customer_id=customer.id)


@pytest.fixture
def ada(shop: Any, django_capture_on_commit_callbacks: Any) -> Member:
    return _customer(shop, "ada@example.com", django_capture_on_commit_callbacks)


def _entries(member: Member, n: int) -> list[str]:
    for i in range(n):
        points_adjust(
            shop=member.shop,
            member=member,
            amount=i + 1,
            reason="r",
            actor="t",
            idempotency_key=f"{member.pk}:{i}",
        )
    ids = LedgerEntry.objects.filter(member=member).order_by("-pk").values_list("pk", flat=True)
    return [str(pk) for pk in ids]


def _changes(member: Member, n: int) -> list[str]:
    """``n`` tier changes, three at a time sharing a moment (the id breaks the tie)."""
    start = timezone.now() - timedelta(days=n)
    TierChange.objects.bulk_create(
        TierChange(
            shop=member.shop,
            member=member,
            to_name=f"Tier {i}",
            reason="manual",
            key=f"{member.pk}:{i}",
            at=start + timedelta(hours=i // 3),
        )
        for i in range(n)
    )
    rows = TierChange.objects.filter(member=member).order_by("-at", "-pk")
    return [str(pk) for pk in rows.values_list("pk", flat=True)]


def _walk(client: Any, path: str, key: str, first: dict, headers: dict, limit: int) -> list[str]:
    seen = [row["id"] for row in first[key]]
    cursor = first[f"{key}_next"]
    while cursor is not None:
        page = client.get(path, {"before": cursor, "limit": limit}, headers=headers)
        assert page.status_code == 200 and page["Access-Control-Allow-Origin"] == "*"
        body = page.json()
        assert 0 < len(body[key]) <= limit
        seen += [row["id"] for row in body[key]]
        cursor = body["next"]
    return seen


def test_show_more_walks_the_points_history_back_to_the_first_entry(client, shop, ada):
    expected = _entries(ada, 56)  # 56 adjustments: 56 entries
    headers = bearer(shop.domain, ada.customer_id)

    history = client.get("/ext/customer/history", headers=headers).json()

    assert len(history["entries"]) == 50 and history["entries_next"] == expected[49]
    assert _walk(client, ENTRIES, "entries", history, headers, limit=4) == expected
    last = client.get(ENTRIES, {"before": expected[-2]}, headers=headers).json()
    assert ([e["id"] for e in last["entries"]], last["next"]) == ([expected[-1]], None)
    assert last["entries"][0]["amount"] == 1


def test_show_more_walks_the_tier_history_with_ties_broken_by_id(client, shop, ada):
    expected = _changes(ada, 26)
    headers = bearer(shop.domain, ada.customer_id)

    history = client.get("/ext/customer/history", headers=headers).json()

    assert [c["id"] for c in history["tier_changes"]] == expected[:20]
    assert history["tier_changes_next"] == expected[19]
    assert _walk(client, CHANGES, "tier_changes", history, headers, limit=4) == expected
    page = client.get(CHANGES, {"before": expected[19]}, headers=headers).json()
    assert page["tier_changes"][0]["label"] and page["next"] is None  # default limit 20


def test_short_histories_say_there_is_nothing_more(client, shop, ada):
    _changes(ada, 2)
    history = client.get("/ext/customer/history", headers=bearer(shop.domain, ada.customer_id))
    body = history.json()
    assert (body["entries_next"], body["tier_changes_next"]) == (None, None)
    assert len(body["tier_changes"]) == 2


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (ENTRIES, {}, "before"),
        (ENTRIES, {"before": "abc"}, "before"),
        (ENTRIES, {"before": "0"}, "before"),
        (ENTRIES, {"before": "9", "limit": "51"}, "limit"),
        (CHANGES, {"before": "9", "limit": "0"}, "limit"),
        (CHANGES, {"before": "99999999999999999999999"}, "before"),
    ],
)
def test_a_bad_page_request_is_400_with_the_field(client, shop, ada, path, query, field):
    response = client.get(path, query, headers=bearer(shop.domain, ada.customer_id))
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_pages_are_the_customers_own(
    client, shop, ada, django_capture_on_commit_callbacks: Any
) -> None:
    bob = _customer(shop, "bob@example.com", django_capture_on_commit_callbacks)
    bob_entries = _entries(bob, 2)
    ada_entries, ada_changes = _entries(ada, 3), _changes(ada, 3)
    headers = bearer(shop.domain, bob.customer_id)

    # an id from someone else's (newer) history pages through Bob's own rows only
    page = client.get(ENTRIES, {"before": ada_entries[0]}, headers=headers).json()
    assert [e["id"] for e in page["entries"]] == bob_entries
    refused = client.get(CHANGES, {"before": ada_changes[1]}, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_cursor"


def test_pages_need_a_logged_in_customer_and_a_token(client, shop, ada):
    guest = client.get(ENTRIES, {"before": "5"}, headers=bearer(shop.domain, None))
    assert guest.status_code == 401
    assert guest.json()["error"]["code"] == "customer_login_required"
    assert client.get(CHANGES, {"before": "5"}).status_code == 401
