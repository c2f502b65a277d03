"""Staff members by name: the session token names a staff user only by id, so the first
time a staff user opens Beam (and once a week after) an online token exchange asks the
platform who they are. The audit trail shows the name instead of the id."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from merchants.errors import BeamError
from merchants.models import Shop, StaffMember
from merchants.shopify import oauth

logger = logging.getLogger(__name__)

STAFF_REFRESH_AFTER = timedelta(days=7)
_TEXT = 255


def staff_member_learn(*, shop: Shop, user_id: str, session_token: str) -> StaffMember | None:
    """Know the staff member behind a verified session token; a platform failure leaves the
    trail showing "Staff member 42" and never fails the admin load."""
    if not user_id.isdigit():
        return None
    known = StaffMember.objects.filter(shop=shop, user_id=user_id).first()
    if known is not None and known.updated_at > timezone.now() - STAFF_REFRESH_AFTER:
        return known
    try:
        user = oauth.staff_from_session_token(shop_domain=shop.domain, session_token=session_token)
    except BeamError as exc:
        logger.info("staff member %s of %s not learnt: %s", user_id, shop.domain, exc)
        return known
    if str(user.get("id", "")) != user_id:
        logger.warning("online token of %s named another staff user", shop.domain)
        return known
    member, _ = StaffMember.objects.update_or_create(
        shop=shop,
        user_id=user_id,
        defaults={
            "first_name": str(user.get("first_name") or "")[:_TEXT],
            "last_name": str(user.get("last_name") or "")[:_TEXT],
            "email": str(user.get("email") or "")[:_TEXT],
            "account_owner": bool(user.get("account_owner")),
        },
    )
    return member


def staff_names(*, shop: Shop, user_ids: set[str]) -> dict[str, str]:
    """``{user id: "Ann Lee"}`` for the staff members Beam knows among ``user_ids``."""
    return {
        m.user_id: m.display_name
        for m in StaffMember.objects.filter(shop=shop, user_id__in=sorted(user_ids))
    }
