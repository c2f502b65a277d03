"""Shop lifecycle: install, token refresh, uninstall. The only place a shop's tokens change."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone

from merchants.domains import shop_domain_normalise
from merchants.errors import InvalidShopDomain, ShopNotInstalled
from merchants.lock_objects import shop_qs_select_for_update
from merchants.models import Shop
from merchants.shopify import oauth

logger = logging.getLogger(__name__)

# Refresh a little before expiry so a call started now does not carry a dying token.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)


def _grant_apply(shop: Shop, grant: oauth.TokenGrant) -> list[str]:
    shop.access_token = grant.access_token
    shop.access_token_expires_at = grant.access_token_expires_at
    shop.refresh_token = grant.refresh_token
    shop.refresh_token_expires_at = grant.refresh_token_expires_at
    if grant.scope:
        shop.scopes = grant.scope
    return [
        "access_token_encrypted",
        "access_token_expires_at",
        "refresh_token_encrypted",
        "refresh_token_expires_at",
        "scopes",
        "updated_at",
    ]


def shop_install(*, domain: str, grant: oauth.TokenGrant) -> Shop:
    """Create or reactivate the shop with a fresh grant (install and reinstall alike)."""
    normalised = shop_domain_normalise(domain)
    if normalised is None:
        raise InvalidShopDomain(f"{domain!r} is not a myshopify.com domain")
    now = timezone.now()
    with transaction.atomic():
        shop, _ = Shop.objects.get_or_create(domain=normalised)
        shop = shop_qs_select_for_update().get(pk=shop.pk)
        fields = _grant_apply(shop, grant)
        if shop.uninstalled_at is not None or shop.installed_at is None:
            shop.installed_at = now
        shop.uninstalled_at = None
        shop.save(update_fields=[*fields, "installed_at", "uninstalled_at"])
        shop_id = shop.pk
        transaction.on_commit(lambda: _shop_details_sync_enqueue(shop_id))
    logger.info("shop installed: %s scopes=%s", shop.domain, shop.scopes)
    return shop


def _shop_details_sync_enqueue(shop_id: int) -> None:
    """After an install commits: pull the shop's name, currency, timezone and plan."""
    from merchants.tasks import shop_details_sync  # tasks import services: import late

    shop_details_sync.delay(shop_id)


def shop_install_by_code(*, domain: str, code: str) -> Shop:
    """Authorization-code grant: exchange ``code`` (the caller checked the callback's HMAC,
    nonce and shop) for an expiring offline token and install. Nothing is written when the
    platform refuses the code."""
    normalised = shop_domain_normalise(domain)
    if normalised is None:
        raise InvalidShopDomain(f"{domain!r} is not a myshopify.com domain")
    grant = oauth.token_from_code(shop_domain=normalised, code=code)
    return shop_install(domain=normalised, grant=grant)


def shop_install_by_token_exchange(*, domain: str, session_token: str) -> Shop:
    """Managed install: exchange a verified session token for an expiring offline token and
    install. The platform call runs outside any transaction."""
    normalised = shop_domain_normalise(domain)
    if normalised is None:
        raise InvalidShopDomain(f"{domain!r} is not a myshopify.com domain")
    grant = oauth.token_from_session_token(shop_domain=normalised, session_token=session_token)
    return shop_install(domain=normalised, grant=grant)


def shop_uninstall(*, shop: Shop) -> Shop:
    """Deactivate at once: tokens dropped so no API call or job can run; data stays until
    ``shop/redact``."""
    with transaction.atomic():
        locked = shop_qs_select_for_update().get(pk=shop.pk)
        if locked.uninstalled_at is None:
            locked.uninstalled_at = timezone.now()
        locked.access_token_encrypted = ""
        locked.refresh_token_encrypted = ""
        locked.access_token_expires_at = None
        locked.refresh_token_expires_at = None
        locked.save(
            update_fields=[
                "uninstalled_at",
                "access_token_encrypted",
                "refresh_token_encrypted",
                "access_token_expires_at",
                "refresh_token_expires_at",
                "updated_at",
            ]
        )
    logger.info("shop uninstalled: %s", locked.domain)
    return locked


def _needs_refresh(shop: Shop) -> bool:
    expires = shop.access_token_expires_at
    return expires is not None and expires - TOKEN_REFRESH_MARGIN <= timezone.now()


def shop_needs_token_exchange(shop: Shop) -> bool:
    """The shop's expiring token is dead and cannot be refreshed (the platform refused the
    refresh): only a token exchange at the next admin load brings the shop back."""
    expires = shop.access_token_expires_at
    return (
        shop.is_active
        and not shop.refresh_token_encrypted
        and expires is not None
        and expires <= timezone.now()
    )


def _shop_write_lock(shop_id: int) -> Shop:
    """The shop's row lock, taken by writing the row first. On SQLite ``select_for_update``
    is a no-op and a transaction that has only read cannot write once another connection
    committed (``database is locked``): the token the platform just issued would be lost
    and the used refresh token refused for ever. Writing first holds the write lock before
    the platform call, so storing the new pair cannot fail on a lock."""
    Shop.objects.filter(pk=shop_id).update(updated_at=timezone.now())
    return shop_qs_select_for_update().get(pk=shop_id)


def shop_token_refresh(*, shop: Shop, force: bool = False) -> Shop:
    """Refresh the shop's access token under its row lock, so concurrent callers refresh
    once: the second one finds a fresh token (or, with ``force``, a token other than the one
    it saw) and uses it. The new pair is stored in the same transaction, the first write
    after the platform's answer. A refused refresh raises ``TokenGrantRejected`` and leaves
    the shop needing a token exchange (``shop_needs_token_exchange``), which the next admin
    load performs; until then no refresh is attempted."""
    seen_token = shop.access_token_encrypted
    rejected: oauth.TokenGrantRejected | None = None
    with transaction.atomic():
        locked = _shop_write_lock(shop.pk)
        if locked.uninstalled_at is not None or not locked.access_token_encrypted:
            raise ShopNotInstalled(f"{locked.domain} is not installed")
        changed_meanwhile = locked.access_token_encrypted != seen_token
        if changed_meanwhile or (not force and not _needs_refresh(locked)):
            return locked
        if not locked.refresh_token_encrypted:
            if shop_needs_token_exchange(locked):
                raise oauth.TokenGrantRejected(
                    f"{locked.domain}: the token expired and its refresh was refused; "
                    "open Beam from the store admin to reconnect"
                )
            # A non-expiring (legacy) token cannot be refreshed; the caller sees the 401.
            return locked
        try:
            grant = oauth.token_refresh(
                shop_domain=locked.domain, refresh_token=locked.refresh_token
            )
        except oauth.TokenGrantRejected as exc:
            rejected = exc
            locked.refresh_token_encrypted = ""
            locked.refresh_token_expires_at = None
            now = timezone.now()
            expires = locked.access_token_expires_at
            locked.access_token_expires_at = min(expires, now) if expires else now
            locked.save(
                update_fields=[
                    "refresh_token_encrypted",
                    "refresh_token_expires_at",
                    "access_token_expires_at",
                    "updated_at",
                ]
            )
        else:
            locked.save(update_fields=_grant_apply(locked, grant))
    if rejected is not None:
        logger.warning("shop token refresh refused: %s: %s", locked.domain, rejected)
        raise rejected
    logger.info("shop token refreshed: %s", locked.domain)
    return locked


def shop_access_token(*, shop: Shop) -> str:
    """A usable access token for the Admin API, refreshed first when about to expire."""
    if shop.uninstalled_at is not None or not shop.access_token_encrypted:
        raise ShopNotInstalled(f"{shop.domain} is not installed")
    if _needs_refresh(shop):
        fresh = shop_token_refresh(shop=shop)
        shop.access_token_encrypted = fresh.access_token_encrypted
        shop.access_token_expires_at = fresh.access_token_expires_at
        shop.refresh_token_encrypted = fresh.refresh_token_encrypted
    return shop.access_token


_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,2}")


def shop_details_apply(*, shop: Shop, details: Mapping[str, Any]) -> list[str]:
    """Copy the shop's name, email, currency, IANA time zone, primary locale (and plan name) from a
    shop/update payload or the Admin API; missing or invalid values are left alone.
    Returns the fields changed."""
    changes: dict[str, str] = {}
    for field in ("name", "email", "plan_name"):
        value = details.get(field)
        if isinstance(value, str) and value:
            changes[field] = value[: 64 if field == "plan_name" else 255]
    locale = details.get("primary_locale")
    if isinstance(locale, str) and _LOCALE.fullmatch(locale):
        changes["primary_locale"] = locale
    currency = details.get("currency")
    if isinstance(currency, str) and len(currency) == 3 and currency.isalpha():
        changes["currency"] = currency.upper()
    tz = details.get("iana_timezone")
    if isinstance(tz, str) and 0 < len(tz) <= 64:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            changes["iana_timezone"] = tz
    changes = {k: v for k, v in changes.items() if getattr(shop, k) != v}
    if changes:
        Shop.objects.filter(pk=shop.pk).update(**changes, updated_at=timezone.now())
        for field, value in changes.items():
            setattr(shop, field, value)
    return sorted(changes)


def uninstall_apply(*, shop: Shop, triggered_at: datetime | None) -> bool:
    """app/uninstalled: deactivate the shop unless it is already, or unless the delivery is
    older than the shop's latest install (a late retry must not undo a reinstall)."""
    if shop.uninstalled_at is not None:
        return False
    installed_at = shop.installed_at
    if triggered_at is not None and installed_at is not None and triggered_at < installed_at:
        return False
    shop_uninstall(shop=shop)
    return True
