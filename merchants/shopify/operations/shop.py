"""The shop: its name, contact email, currency, time zone and plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from merchants.shopify.client import AdminClient
from merchants.shopify.operations.arguments import admin_client

if TYPE_CHECKING:
    from merchants.models import Shop


@dataclass(frozen=True)
class ShopDetails:
    name: str
    email: str
    currency: str
    iana_timezone: str
    plan_name: str


SHOP_DETAILS_DOCUMENT = """
query BeamShopDetails {
  shop { name email currencyCode ianaTimezone plan { publicDisplayName } }
}
"""


def shop_details_fetch(shop: Shop, *, client: AdminClient | None = None) -> ShopDetails:
    """Name, contact email, currency, time zone and plan of the shop."""
    data = admin_client(shop, client).execute(SHOP_DETAILS_DOCUMENT).data
    details = data.get("shop") or {}
    return ShopDetails(
        name=details.get("name") or "",
        email=details.get("email") or "",
        currency=details.get("currencyCode") or "",
        iana_timezone=details.get("ianaTimezone") or "",
        plan_name=(details.get("plan") or {}).get("publicDisplayName") or "",
    )
