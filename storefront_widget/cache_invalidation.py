"""Drop a shop's cached program/landing page when what they show changes (and, when a
reward changes, the shop's members' cached ``me`` documents, whose codes show its title).

Cache coherence, not domain flow: whoever saves a program, reward, bonus event, tier or shop (admin
pages, services, the shell) cannot forget to invalidate. No ``on_commit`` work is queued (it
would add to every writer's commit hooks); a reader that races a writer's open transaction
can re-fill the cache with the old rows, and bulk ``update()`` bypasses signals: the short
cache lifetime (``PROGRAM_CACHE_SECONDS``) bounds both.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from loyalty.member_versions import shop_members_changed_on_commit
from storefront_widget.app_proxy import shop_cache_invalidate
from storefront_widget.selectors import program_cache_invalidate

SHOP_FIELDS_SHOWN = frozenset({"name", "currency", "uninstalled_at", "domain"})


def _by_shop_fk(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.shop_id is not None:
        program_cache_invalidate(shop_id=instance.shop_id)


def _reward_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    _by_shop_fk(sender, instance)
    if instance.shop_id is not None:  # codes show their reward's title
        shop_members_changed_on_commit(shop_id=instance.shop_id)


def _by_shop(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    shop_cache_invalidate(domain=instance.domain)
    if update_fields is not None and not SHOP_FIELDS_SHOWN & set(update_fields):
        return  # e.g. a token refresh
    program_cache_invalidate(shop_id=instance.pk)


def connect() -> None:
    from loyalty.models import (
        BonusEvent,
        EarningAction,
        LoyaltyProgram,
        ReferralSettings,
        Reward,
        Tier,
        TierSettings,
    )
    from merchants.models import Shop

    for model in (LoyaltyProgram, BonusEvent, Tier, TierSettings, EarningAction):
        name = model.__name__
        post_save.connect(_by_shop_fk, sender=model, dispatch_uid=f"sf-cache-{name}")
        post_delete.connect(_by_shop_fk, sender=model, dispatch_uid=f"sf-cache-del-{name}")
    post_save.connect(_reward_changed, sender=Reward, dispatch_uid="sf-cache-Reward")
    # the panel's referral block (in ``me``) follows the referral settings
    post_save.connect(_reward_changed, sender=ReferralSettings, dispatch_uid="sf-cache-Ref")
    post_delete.connect(_reward_changed, sender=Reward, dispatch_uid="sf-cache-del-Reward")
    post_save.connect(_by_shop, sender=Shop, dispatch_uid="sf-cache-Shop")
    post_delete.connect(_by_shop, sender=Shop, dispatch_uid="sf-cache-del-Shop")
