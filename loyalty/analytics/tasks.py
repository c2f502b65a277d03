"""Celery tasks of the analytics rollups: thin wrappers around the services."""

from __future__ import annotations

from celery import shared_task

from loyalty.analytics import services
from merchants.models import Shop


@shared_task
def rollups_refresh_all() -> int:
    """Periodic (beat): bring every active shop's rollups up to date (changed days only)."""
    return services.rollups_refresh_all()


@shared_task
def rollup_refresh(shop_id: int, full: bool = False) -> bool:
    """Refresh one shop's rollups; a shop that vanished is nothing to do."""
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None:
        return False
    services.rollup_refresh(shop=shop, full=full)
    return True
