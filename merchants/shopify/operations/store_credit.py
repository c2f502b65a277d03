"""Store credit: credit a customer's account and read its recent credits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from merchants.errors import ShopifyApiError
from merchants.shopify.client import AdminClient
from merchants.shopify.operations.arguments import admin_client, decimal_str

if TYPE_CHECKING:
    from merchants.models import Shop


@dataclass(frozen=True)
class StoreCreditCredit:
    """One credit transaction of a customer's store credit account."""

    id: str  # StoreCreditAccountCreditTransaction GID
    amount: Decimal
    currency: str
    created_at: datetime
    event: str  # StoreCreditSystemEvent: ADJUSTMENT for credits made through the API


STORE_CREDIT_ACCOUNT_CREDIT_DOCUMENT = """
mutation BeamStoreCreditAccountCredit($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
    storeCreditAccountTransaction { id amount { amount currencyCode } }
    userErrors { field message code }
  }
}
"""

# Newest first, credits only. A credit carries no reference of the caller's in 2026-10 (a
# merchant-only ``note`` appears in 2027-01), so a credit is recognised by its owner, amount,
# currency, event (``ADJUSTMENT``: made through the API or admin, not by an order) and time.
# The search syntax filters transactions by type, id and expires_at only, not by createdAt:
# the time window is applied here, page by page, newest first.
STORE_CREDIT_CREDITS_RECENT_DOCUMENT = """
query BeamStoreCreditCreditsRecent($customerId: ID!, $accounts: String!, $after: String) {
  customer(id: $customerId) {
    storeCreditAccounts(first: 1, query: $accounts) {
      nodes {
        id
        transactions(
          first: 50, after: $after, query: "type:credit", sortKey: CREATED_AT, reverse: true
        ) {
          nodes {
            __typename
            createdAt
            event
            amount { amount currencyCode }
            ... on StoreCreditAccountCreditTransaction { id }
          }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
  }
}
"""


def store_credit_account_credit(
    shop: Shop,
    *,
    customer_gid: str,
    amount: Decimal,
    currency: str,
    client: AdminClient | None = None,
) -> str:
    """Credit the customer's store credit account (created on first credit) in
    ``currency``; returns the transaction GID.

    The mutation takes no idempotency key (no ``@idempotent`` support), so it is sent once:
    no retry inside the call, whatever fails. A timeout or 5xx is ambiguous (the store may
    have applied the credit) and surfaces as ``ShopifyApiError``; the caller looks the credit
    up (``store_credit_credits_since``) before crediting again. A given ``client`` should be
    built with ``max_attempts=1`` for the same reason."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    api = client if client is not None else AdminClient(shop, max_attempts=1)
    payload = api.mutate(
        STORE_CREDIT_ACCOUNT_CREDIT_DOCUMENT,
        {
            "id": customer_gid,
            "creditInput": {
                "creditAmount": {"amount": decimal_str(amount), "currencyCode": currency.upper()}
            },
        },
        root="storeCreditAccountCredit",
    )
    transaction = payload.get("storeCreditAccountTransaction") or {}
    if not transaction.get("id"):
        raise ShopifyApiError("storeCreditAccountCredit returned no transaction")
    return str(transaction["id"])


STORE_CREDIT_CREDITS_MAX_PAGES = 20


def store_credit_credits_since(
    shop: Shop,
    *,
    customer_gid: str,
    currency: str,
    since: datetime,
    client: AdminClient | None = None,
) -> list[StoreCreditCredit]:
    """The credits of the customer's ``currency`` account created at or after ``since``,
    newest first (none when the customer has no such account). Raises ``ShopifyApiError``
    rather than answer partially when there are too many to read."""
    if since.tzinfo is None or since.utcoffset() is None:
        raise ValueError("aware datetimes only")
    floor = since.replace(microsecond=0)  # the platform's DateTime has whole seconds
    api = admin_client(shop, client)
    variables: dict[str, Any] = {
        "customerId": customer_gid,
        "accounts": f"currency_code:{currency.upper()}",
        "after": None,
    }
    credits: list[StoreCreditCredit] = []
    for _ in range(STORE_CREDIT_CREDITS_MAX_PAGES):
        data = api.execute(STORE_CREDIT_CREDITS_RECENT_DOCUMENT, variables).data
        customer = data.get("customer") or {}
        accounts = (customer.get("storeCreditAccounts") or {}).get("nodes") or []
        if not accounts:
            return credits
        page = accounts[0].get("transactions") or {}
        for node in page.get("nodes") or []:
            created_at = datetime.fromisoformat(str(node["createdAt"]).replace("Z", "+00:00"))
            if created_at < floor:
                return credits
            if node.get("__typename") != "StoreCreditAccountCreditTransaction":
                continue
            money = node.get("amount") or {}
            credits.append(
                StoreCreditCredit(
                    id=str(node["id"]),
                    amount=Decimal(str(money.get("amount"))),
                    currency=str(money.get("currencyCode") or ""),
                    created_at=created_at,
                    event=str(node.get("event") or ""),
                )
            )
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return credits
        variables["after"] = info.get("endCursor")
    raise ShopifyApiError(
        f"{shop.domain}: more than {STORE_CREDIT_CREDITS_MAX_PAGES} pages of store credit "
        f"since {since.isoformat()}"
    )
