"""What the theme app extension's blocks render on a real storefront, rendered by the devstore
from the extension's own files: the launcher embed's ``#beam-root`` config holder (settings at
their schema defaults, assets served from ``extensions/beam-theme/assets``), the product-points
line and the account-points block, reading the same app-owned metafields the Liquid reads."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from devstore.graphql import APP_ID
from devstore.models import DevCustomer, DevMetafield, DevShop

I18N_LANGUAGES = ("fr", "de", "es")
LOYALTY_NAMESPACE = f"app--{APP_ID}--loyalty"


def extension_root() -> Path:
    return Path(settings.BASE_DIR) / "extensions" / "beam-theme"


def launcher_installed() -> bool:
    """The theme has the app embed: its block and the launcher script exist."""
    root = extension_root()
    return (root / "blocks" / "launcher-embed.liquid").is_file() and (
        root / "assets" / "beam-launcher.js"
    ).is_file()


def block_settings(block: str) -> dict[str, object]:
    """The block's settings at their schema defaults (what a merchant gets untouched)."""
    text = (extension_root() / "blocks" / block).read_text()
    schema = json.loads(text.split("{% schema %}")[1].split("{% endschema %}")[0])
    return {s["id"]: s.get("default") for s in schema.get("settings", []) if "id" in s}


@cache
def locale_strings() -> dict:
    return json.loads((extension_root() / "locales" / "en.default.json").read_text())


def _liquid(value: object) -> str:
    """How Liquid prints a setting value (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def launcher_embed_attrs(
    shop: DevShop, customer: DevCustomer | None, locale: str = "en"
) -> list[tuple[str, str]]:
    """The ``data-*`` attributes ``blocks/launcher-embed.liquid`` renders, in its order."""
    s = block_settings("launcher-embed.liquid")
    root = reverse("devstore:storefront", args=[shop.domain])

    def asset(name: str) -> str:
        return reverse("devstore:theme_asset", args=[name])

    lang = locale[:2].lower()
    return [
        ("data-proxy", root + "apps/beam"),
        ("data-root", root),
        ("data-customer", str(customer.id) if customer else ""),
        ("data-locale", locale),
        ("data-panel-js", f"{asset('beam-panel-views.js')} {asset('beam-panel.js')}"),
        ("data-panel-css", asset("beam-panel.css")),
        ("data-i18n-js", asset(f"beam-i18n-{lang}.js") if lang in I18N_LANGUAGES else ""),
        ("data-sign-up", root + "account"),
        ("data-log-in", root + "account"),
        ("data-color", _liquid(s["primary_color"])),
        ("data-text-color", _liquid(s["text_color"])),
        ("data-position", _liquid(s["position"])),
        ("data-shape", _liquid(s["shape"])),
        ("data-icon", _liquid(s["icon"])),
        ("data-label", _liquid(s["label"])),
        ("data-mobile", _liquid(s["show_on_mobile"])),
    ]


def _metafield(shop: DevShop, owner_gid: str, key: str) -> str | None:
    row = DevMetafield.objects.filter(
        shop=shop, owner_gid=owner_gid, namespace=LOYALTY_NAMESPACE, key=key
    ).first()
    return row.value if row else None


def product_points(shop: DevShop, price: Decimal) -> dict[str, object] | None:
    """``blocks/product-points.liquid``: points = floor(price in cents * ratio / 100)."""
    s = block_settings("product-points.liquid")
    ratio = Decimal(_metafield(shop, shop.gid, "points_per_unit") or str(s["points_per_unit"]))
    points = math.floor(Decimal(int(price * 100)) * ratio / 100)
    if points <= 0:
        return None
    text = locale_strings()["product_points"]["earn"].replace("{{ points }}", str(points))
    return {"points": points, "text": text, "color": s["color"]}


def account_points(shop: DevShop, customer: DevCustomer) -> dict[str, object]:
    """``blocks/account-points.liquid``: the balance metafield (0 when unset) and the link."""
    s = block_settings("account-points.liquid")
    balance = _metafield(shop, customer.gid, "points_balance") or "0"
    strings = locale_strings()["account_points"]
    return {
        "balance": balance,
        "text": strings["balance"].replace("{{ points }}", balance),
        "open": strings["open"],
        "color": s["color"],
    }
