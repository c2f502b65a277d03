"""Store credit: accounts and credit transactions, and crediting an account."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone
from graphql import GraphQLError

from devstore.graphql.connections import SEARCH_TERM, paginate, search
from devstore.graphql.inputs import input_datetime, input_decimal
from devstore.graphql.values import iso, money_v2
from devstore.identifiers import gid_parse, id_allocate
from devstore.models import DevCustomer, DevShop, DevStoreCreditTransaction

if TYPE_CHECKING:
    from collections.abc import Callable

    from devstore.graphql.graph import ShopGraph


class StoreCreditNodes:
    """Store credit resolvers of ``ShopGraph``."""

    shop: DevShop
    currency: str
    # resolvers of the other ``ShopGraph`` mixins
    customer_node: Callable[[DevCustomer], dict]

    def store_credit_account_node(self, customer: DevCustomer) -> dict:
        def transactions(
            info,
            first=None,
            last=None,
            after=None,
            before=None,
            reverse=None,
            sortKey=None,
            query=None,
            **_,
        ):
            if sortKey not in (None, "CREATED_AT"):
                raise GraphQLError(f"devstore: sortKey {sortKey} is not simulated")
            qs = customer.store_credit_transactions.all()
            # Every simulated transaction is a credit: a ``type:`` filter without ``credit``
            # matches none (unknown values are ignored, as the platform documents).
            types = {
                m.group("value").strip("'\"").lower()
                for m in SEARCH_TERM.finditer(query or "")
                if m.group("field").lower() == "type"
            } & {"credit", "debit", "debit_revert", "expiration"}
            if types and "credit" not in types:
                qs = qs.none()
            qs = search(qs, query, {"id": "id", "expires_at": "expires_at"})
            return paginate(
                qs,
                lambda row: self.store_credit_transaction_node(row, customer),
                first=first,
                last=last,
                after=after,
                before=before,
                sort_key="CREATED_AT",
                reverse=reverse,
            )

        return {
            "__typename": "StoreCreditAccount",
            "id": f"gid://shopify/StoreCreditAccount/{customer.id}",
            "balance": money_v2(customer.store_credit, self.currency),
            "owner": lambda info: self.customer_node(customer),
            "transactions": transactions,
        }

    def store_credit_transaction_node(self, row: DevStoreCreditTransaction, customer) -> dict:
        """A credit as ``StoreCreditAccountCreditTransaction`` (the devstore makes credits only,
        through the API: event ``ADJUSTMENT``, no origin)."""
        return {
            "__typename": "StoreCreditAccountCreditTransaction",
            "id": f"gid://shopify/StoreCreditAccountCreditTransaction/{row.id}",
            "amount": money_v2(row.amount, row.currency),
            "balanceAfterTransaction": money_v2(row.balance_after, row.currency),
            "remainingAmount": money_v2(row.amount, row.currency),
            "createdAt": iso(row.created_at),
            "expiresAt": iso(row.expires_at),
            "event": "ADJUSTMENT",
            "origin": None,
            "account": lambda info: self.store_credit_account_node(customer),
        }


class StoreCreditMutations:
    """``storeCreditAccountCredit`` of ``Mutations``."""

    shop: DevShop
    graph: ShopGraph

    def store_credit_account_credit(self, info, id: str, creditInput: dict) -> dict:
        parsed = gid_parse(id)
        customer = None
        if parsed and parsed[0] in {"Customer", "StoreCreditAccount"}:
            customer = (
                DevCustomer.objects.select_for_update().filter(shop=self.shop, id=parsed[1]).first()
            )
        if customer is None:
            code = "OWNER_NOT_FOUND" if parsed and parsed[0] == "Customer" else "ACCOUNT_NOT_FOUND"
            message = (
                "Owner does not exist"
                if code == "OWNER_NOT_FOUND"
                else "Store credit account does not exist"
            )
            return self._credit_refused(["id"], message, code)
        money_input = creditInput.get("creditAmount") or {}
        amount = input_decimal(money_input.get("amount"))
        if amount is None or amount <= 0:
            return self._credit_refused(
                ["creditInput", "creditAmount", "amount"],
                "A positive amount must be used to credit a store credit account",
                "NEGATIVE_OR_ZERO_AMOUNT",
            )
        if money_input.get("currencyCode") != self.shop.currency:
            return self._credit_refused(
                ["creditInput", "creditAmount", "currencyCode"],
                "The currency provided does not match the currency of the store credit account",
                "MISMATCHING_CURRENCY",
            )
        expires_at = (
            input_datetime(creditInput.get("expiresAt")) if creditInput.get("expiresAt") else None
        )
        now = timezone.now()
        if expires_at is not None and expires_at <= now:
            return self._credit_refused(
                ["creditInput", "expiresAt"],
                "The expiry date must be in the future",
                "EXPIRES_AT_IN_PAST",
            )
        customer.store_credit += amount.quantize(Decimal("0.01"))
        customer.save(update_fields=["store_credit"])
        transaction_row = DevStoreCreditTransaction.objects.create(
            customer=customer,
            id=id_allocate("transaction"),
            amount=amount,
            currency=self.shop.currency,
            balance_after=customer.store_credit,
            expires_at=expires_at,
            created_at=now,
        )
        currency = self.shop.currency
        return {
            "storeCreditAccountTransaction": {
                "__typename": "StoreCreditAccountCreditTransaction",
                "id": f"gid://shopify/StoreCreditAccountCreditTransaction/{transaction_row.id}",
                "amount": money_v2(amount, currency),
                "balanceAfterTransaction": money_v2(customer.store_credit, currency),
                "remainingAmount": money_v2(amount, currency),
                "createdAt": iso(now),
                "expiresAt": iso(expires_at),
                "event": "ADJUSTMENT",
                "origin": None,
                "account": self.graph.store_credit_account_node(customer),
            },
            "userErrors": [],
        }

    @staticmethod
    def _credit_refused(field: list[str], message: str, code: str) -> dict:
        return {
            "storeCreditAccountTransaction": None,
            "userErrors": [{"field": field, "message": message, "code": code}],
        }
