"""The customer node."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from devstore.graphql.connections import SEARCH_TERM, list_connection
from devstore.graphql.values import iso, money_v2
from devstore.models import DevCustomer, DevOrder, DevShop

if TYPE_CHECKING:
    from collections.abc import Callable

    from devstore.graphql.metafields import Resolver


class CustomerNodes:
    """The ``Customer`` resolver of ``ShopGraph``."""

    shop: DevShop
    currency: str
    # resolvers of the other ``ShopGraph`` mixins
    metafield_fields: Callable[[str], dict[str, Resolver]]

    def customer_node(self, customer: DevCustomer) -> dict:
        currency = self.currency

        def store_credit_accounts(info, first=None, after=None, query=None, **_):
            # One account, in the shop's currency, once credited (``currency_code:`` filters).
            has_account = customer.store_credit or customer.store_credit_transactions.exists()
            wanted = {
                m.group("value").strip("'\"").upper()
                for m in SEARCH_TERM.finditer(query or "")
                if m.group("field").lower() == "currency_code"
            }
            if wanted and self.currency.upper() not in wanted:
                has_account = False
            nodes = [self.store_credit_account_node(customer)] if has_account else []
            return list_connection(nodes, first, after)

        orders = DevOrder.objects.filter(customer=customer)
        return {
            "__typename": "Customer",
            "id": customer.gid,
            "legacyResourceId": str(customer.id),
            "email": customer.email or None,
            "defaultEmailAddress": {"emailAddress": customer.email, "marketingOptInLevel": None}
            if customer.email
            else None,
            "firstName": customer.first_name or None,
            "lastName": customer.last_name or None,
            "displayName": customer.display_name,
            "note": customer.note or None,
            "state": customer.state.upper(),
            "tags": list(customer.tags),
            "verifiedEmail": True,
            "createdAt": iso(customer.created_at),
            "updatedAt": iso(customer.updated_at),
            "numberOfOrders": lambda info: str(orders.count()),
            "amountSpent": lambda info: money_v2(
                sum(
                    (Decimal(o.payload["current_total_price"]) for o in orders.only("payload")),
                    Decimal("0"),
                ),
                currency,
            ),
            "storeCreditAccounts": store_credit_accounts,
            **self.metafield_fields(customer.gid),
        }
