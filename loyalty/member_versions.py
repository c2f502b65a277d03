"""Change versions of what a member's storefront view shows, for readers that cache it.

A reader (the storefront ``me`` document) caches what it read under the versions it saw
before reading; every writer of a member's ledger, balance, orders, profile or redemptions
drops that member's version once its transaction has committed, and shop-wide changes (a
reward renamed, members erased) drop the shop's. A dropped version comes back as a new,
never-used value on the next read, so nothing read before the write is served again,
whatever the interleaving of readers and writers. The versions live in the shared cache
(Redis in production): a writer in any process or machine reaches every reader.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction


def member_version_key(shop_id: int, customer_id: int) -> str:
    return f"mv:m:{shop_id}:{customer_id}"


def shop_version_key(shop_id: int) -> str:
    return f"mv:s:{shop_id}"


def _drop_on_commit(keys: list[str]) -> None:
    # robust: the write has committed; a cache outage must not turn it into an error (the
    # cached documents' own lifetime bounds what a lost drop can leave behind).
    transaction.on_commit(lambda: cache.delete_many(keys), robust=True)


def members_changed_on_commit(*, shop_id: int, customer_ids: Iterable[int]) -> None:
    """After the current transaction commits (at once outside one), drop the versions of
    these members' views. Call it in the transaction that changes them."""
    keys = sorted({member_version_key(shop_id, c) for c in customer_ids})
    if keys:
        _drop_on_commit(keys)


def member_changed_on_commit(*, shop_id: int, customer_id: int) -> None:
    """``members_changed_on_commit`` for one member."""
    _drop_on_commit([member_version_key(shop_id, customer_id)])


def shop_members_changed_on_commit(*, shop_id: int) -> None:
    """After commit, drop the shop-wide version: every member view of the shop is re-read."""
    _drop_on_commit([shop_version_key(shop_id)])
