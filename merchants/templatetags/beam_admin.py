"""``{% app_bridge_head %}``: the first tags of every embedded page's ``<head>``."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.templatetags.static import static

from merchants.domains import shop_domain_normalise
from merchants.shopify.oauth import store_origin

register = template.Library()

APP_BRIDGE_SRC = "https://cdn.shopify.com/shopifycloud/app-bridge.js"


def _page_shop_domain(context: template.Context) -> str | None:
    """The authenticated shop, else the (validated) ``shop`` query parameter, else None."""
    request = context.get("request")
    if request is None:
        return None
    shop = getattr(request, "embedded_shop", None)
    if shop is not None:
        return shop.domain
    return shop_domain_normalise(request.GET.get("shop"))


@register.inclusion_tag("merchants/_app_bridge_head.html", takes_context=True)
def app_bridge_head(context: template.Context) -> dict[str, Any]:
    """App Bridge's API-key meta and script. Local and demo load the devstore's App Bridge
    stand-in instead and name the devstore's token endpoint, which ``static/beam/session.js``
    falls back on. ``beam-shop`` names the page's shop, which ``static/beam/navigation.js``
    keeps in every admin URL (the bounce page may be framed only by a named shop's admin)."""
    shop_domain = _page_shop_domain(context)
    session_token_url = ""
    if settings.DEVSTORE_ENABLED and shop_domain:
        session_token_url = f"{store_origin(shop_domain)}/admin/session-token"
    return {
        "shopify_api_key": settings.SHOPIFY_API_KEY,
        "app_bridge_src": (
            static("devstore/app-bridge-stub.js") if settings.DEVSTORE_ENABLED else APP_BRIDGE_SRC
        ),
        "session_token_url": session_token_url,
        "shop_domain": shop_domain or "",
    }
