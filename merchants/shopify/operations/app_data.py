"""App data: metafields on Beam's own installation, which the theme app extension reads in
Liquid as ``app.metafields.<namespace>.<key>`` (the launcher's branding), so the storefront
renders what the merchant saved in Beam's admin without a request to Beam."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from merchants.errors import ShopifyApiError
from merchants.shopify.client import AdminClient
from merchants.shopify.operations.arguments import admin_client

if TYPE_CHECKING:
    from merchants.models import Shop

APP_DATA_NAMESPACE = "loyalty"

APP_INSTALLATION_DOCUMENT = """
query BeamAppInstallation {
  currentAppInstallation { id }
}
"""

APP_DATA_METAFIELD_SET_DOCUMENT = """
mutation BeamAppDataSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key namespace }
    userErrors { field message code elementIndex }
  }
}
"""


def app_data_json_set(
    shop: Shop, *, key: str, value: dict[str, Any], client: AdminClient | None = None
) -> None:
    """Store ``value`` as the JSON app-data metafield ``loyalty.<key>`` of the shop's
    installation of Beam (replacing what was there)."""
    api = admin_client(shop, client)
    installation = (api.execute(APP_INSTALLATION_DOCUMENT).data.get("currentAppInstallation")) or {}
    owner = installation.get("id")
    if not owner:
        raise ShopifyApiError(f"{shop.domain}: no current app installation")
    api.mutate(
        APP_DATA_METAFIELD_SET_DOCUMENT,
        {
            "metafields": [
                {
                    "ownerId": owner,
                    "namespace": APP_DATA_NAMESPACE,
                    "key": key,
                    "type": "json",
                    "value": json.dumps(value, sort_keys=True),
                }
            ]
        },
        root="metafieldsSet",
    )
