"""Rows of the shared infrastructure (no shop owns them)."""

from __future__ import annotations

from django.db import models


class CacheDrop(models.Model):
    """A cache key a committed write could not drop because Redis did not answer. Every
    process applies these (deletes the keys, then the rows) before it trusts the cache
    again on a new connection, so nothing cached before the write is served after the
    outage (see ``core.redis_cache``). Rows are never unique: a drop recorded while an
    earlier one is being applied must survive it."""

    key = models.CharField(max_length=250)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
