"""Platform ids: 64-bit integers (``base + sequence``) and their GraphQL GIDs."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import F

from devstore.models import DevSequence

# Bases keep every kind of id above 2**53 so that a float round-trip anywhere shows up.
ID_BASES = {
    "shop": 60_000_000,
    "customer": 9_007_300_000_000_000,
    "product": 9_007_400_000_000_000,
    "variant": 9_007_500_000_000_000,
    "order": 9_007_600_000_000_000,
    "line_item": 9_007_700_000_000_000,
    "refund": 9_007_800_000_000_000,
    "discount": 9_007_900_000_000_000,
    "metafield": 9_008_000_000_000_000,
    "transaction": 9_008_100_000_000_000,
    "shipping_line": 9_008_200_000_000_000,
    "fulfillment": 9_008_300_000_000_000,
}
_GID_RE = re.compile(r"\Agid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d{1,20})(\?.*)?\Z")


def sequence_next(name: str, count: int = 1) -> int:
    """Advance the named sequence by ``count`` and return its new value (row-level
    increment: unique across processes)."""
    with transaction.atomic():
        sequence, _ = DevSequence.objects.get_or_create(name=name)
        DevSequence.objects.filter(pk=sequence.pk).update(value=F("value") + count)
        return DevSequence.objects.values_list("value", flat=True).get(pk=sequence.pk)


def ids_allocate(kind: str, count: int = 1) -> list[int]:
    """``count`` fresh platform ids of ``kind``."""
    last = sequence_next(kind, count)
    base = ID_BASES[kind]
    return [base + n for n in range(last - count + 1, last + 1)]


def id_allocate(kind: str) -> int:
    return ids_allocate(kind, 1)[0]


def gid_parse(gid: object) -> tuple[str, int] | None:
    """``("Customer", 123)`` for ``gid://shopify/Customer/123``, else ``None``."""
    if not isinstance(gid, str):
        return None
    match = _GID_RE.match(gid)
    if not match:
        return None
    return match.group("type"), int(match.group("id"))
