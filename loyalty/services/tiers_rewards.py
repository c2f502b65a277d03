"""Tier benefits that go through the catalogue: the entry reward a tier gives (a
zero-point redemption issued by the redemption saga)."""

from __future__ import annotations

import logging
from datetime import timedelta

from loyalty.member_versions import member_changed_on_commit
from loyalty.models import Member, Redemption, Reward
from loyalty.rules.rewards import reward_price
from loyalty.services.redemptions import redemption_open
from merchants.models import Shop

logger = logging.getLogger(__name__)


def tier_entry_rewards_open(*, shop: Shop, grants: list[tuple[Member, int, str]]) -> list[int]:
    """Give members their new tier's entry reward: per ``(member, reward id, key)`` a
    zero-point redemption under ``key`` (``tier_entry_key``: once per tier per qualifying
    period, like the entry points), issued in the store by the saga after the commit, with
    its retries and sweeper. A reward no longer in the catalogue (or a variable one, which
    has no fixed value) is skipped. Precondition: inside the transaction that moves the
    members up, holding their locks. Returns the redemptions opened."""
    if not grants:
        return []
    rewards = Reward.objects.filter(shop=shop, pk__in={r for _, r, _ in grants}, active=True)
    by_id = {r.pk: r for r in rewards.exclude(kind=Reward.Kind.VARIABLE)}
    opened: list[int] = []
    for member, reward_id, key in grants:
        reward = by_id.get(reward_id)
        if reward is None:
            logger.warning("tier entry reward %s of member %s not given", reward_id, member.pk)
            continue
        if Redemption.objects.filter(shop=shop, member_id=member.pk, client_key=key).exists():
            continue
        _, value = reward_price(reward, None)
        redemption = redemption_open(
            shop=shop,
            member=member,
            reward=reward,
            points_spent=0,
            value=value,
            client_key=key,
            channel=Redemption.Channel.TIER_ENTRY,
            valid_for=timedelta(days=reward.code_valid_days),
        )
        member_changed_on_commit(shop_id=shop.pk, customer_id=member.customer_id)
        opened.append(redemption.pk)
    return opened
