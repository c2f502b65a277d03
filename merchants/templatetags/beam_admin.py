"""``{% app_bridge_head %}``: the first tags of every embedded page's ``<head>``;
``{% section_tabs %}``: the tabs of an app-nav section with several pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse

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


# A section of the app nav (App Bridge's ``ui-nav-menu``, one entry per section) with pages of
# its own: shown as Polaris tabs under the page header. Names are ``loyalty_admin`` URL names.
SECTION_TABS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("earning", "Ways to earn"), ("bonus_events", "Bonus events"), ("expiry", "Points expiry")),
    (
        ("branding", "Launcher and panel"),
        ("landing", "Landing page"),
        ("shopper_texts", "Shopper texts"),
    ),
    (("webhooks", "Webhook health"), ("audit", "Audit trail"), ("onboarding", "Setup")),
)


@register.inclusion_tag("merchants/_section_tabs.html", takes_context=True)
def section_tabs(context: template.Context, current: str) -> dict[str, Any]:
    """The tabs of the section ``current`` (a ``loyalty_admin`` URL name) belongs to."""
    for section in SECTION_TABS:
        if any(name == current for name, _ in section):
            tabs = [
                {
                    "url": reverse(f"loyalty_admin:{name}"),
                    "label": label,
                    "current": name == current,
                }
                for name, label in section
            ]
            return {"tabs": tabs, "section_url": tabs[0]["url"]}
    raise template.TemplateSyntaxError(f"{current!r} is in no admin section")
