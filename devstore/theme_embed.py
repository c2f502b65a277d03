"""What the theme app extension's blocks render on a real storefront, rendered by the devstore
from the extension's own files: the launcher embed's ``#beam-root`` config holder (settings at
their schema defaults, assets served from ``extensions/beam-theme/assets``), the product-points
line and the account-points block (hidden lines that ``beam-blocks.js`` fills from Beam
through the app proxy, as on a real storefront)."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from devstore.graphql.metafields import app_installation_gid
from devstore.models import DevCustomer, DevMetafield, DevShop

I18N_LANGUAGES = ("fr", "de", "es")


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
    """The ``data-*`` attributes ``blocks/launcher-embed.liquid`` renders, in its order: the
    look from Beam's app data on this store (``app.metafields.loyalty.branding``), else the
    block's defaults."""
    s = {**LAUNCHER_DEFAULTS, **_app_data(shop, "branding")}
    root = reverse("devstore:storefront", args=[shop.domain])

    def asset(name: str) -> str:
        return reverse("devstore:theme_asset", args=[name])

    lang = locale[:2].lower()
    return [
        ("data-proxy", root + "apps/beam"),
        ("data-root", root),
        ("data-customer", str(customer.id) if customer else ""),
        ("data-locale", locale),
        (
            "data-panel-js",
            " ".join(
                asset(n)
                for n in (
                    "beam-panel-tiers.js",
                    "beam-panel-earn.js",
                    "beam-panel-referrals.js",
                    "beam-panel-views.js",
                    "beam-panel.js",
                )
            ),
        ),
        ("data-panel-css", asset("beam-panel.css")),
        ("data-i18n-js", asset(f"beam-i18n-{lang}.js") if lang in I18N_LANGUAGES else ""),
        ("data-sign-up", root + "account"),
        ("data-log-in", root + "account"),
        ("data-color", _liquid(s["primary_color"])),
        ("data-text-color", _liquid(s["text_color"])),
        ("data-position", _liquid(s["position"])),
        ("data-shape", _liquid(s["shape"])),
        ("data-icon", _liquid(s["icon"])),
        ("data-label", _liquid(s["launcher_label"])),
        ("data-mobile", _liquid(s["show_on_mobile"])),
    ]


# The ``| default:`` values of ``blocks/launcher-embed.liquid``.
LAUNCHER_DEFAULTS: dict[str, object] = {
    "primary_color": "#4f46e5",
    "text_color": "#ffffff",
    "position": "bottom-right",
    "shape": "pill",
    "icon": "gift",
    "launcher_label": "Rewards",
    "show_on_mobile": True,
}


def _app_data(shop: DevShop, key: str) -> dict[str, object]:
    """Beam's JSON app-data metafield ``loyalty.<key>`` on this store, as Liquid reads it."""
    row = DevMetafield.objects.filter(
        shop=shop, owner_gid=app_installation_gid(shop), namespace="loyalty", key=key
    ).first()
    try:
        value = json.loads(row.value) if row else {}
    except ValueError:
        return {}
    return (
        {k: v for k, v in value.items() if v not in (None, "")} if isinstance(value, dict) else {}
    )


def _block_text(section: str, key: str) -> str:
    """``{{ 'section.key' | t: points: '{n}' }}``: the locale string with the number left for
    ``beam-blocks.js`` to fill."""
    return locale_strings()[section][key].replace("{{ points }}", "{n}")


def product_points(
    shop: DevShop, *, product_id: int, price: Decimal, locale: str = "en", member: bool = False
) -> dict[str, object]:
    """``blocks/product-points.liquid``: a hidden line whose ``data-*`` tell
    ``beam-blocks.js`` what to ask Beam (``variant.price`` is in hundredths; ``member``: a
    customer is logged in, Liquid's ``{% if customer %}``)."""
    s = block_settings("product-points.liquid")
    return {
        "color": s["color"],
        "attrs": [
            ("data-beam-product-points", ""),
            ("data-proxy", reverse("devstore:storefront", args=[shop.domain]) + "apps/beam"),
            ("data-product", str(product_id)),
            ("data-price", str(int(price * 100))),
            ("data-locale", locale),
            *([("data-member", "")] if member else []),
            ("data-text", _block_text("product_points", "earn")),
        ],
        "script": reverse("devstore:theme_asset", args=["beam-blocks.js"]),
    }


def account_points(shop: DevShop, customer: DevCustomer, locale: str = "en") -> dict[str, object]:
    """``blocks/account-points.liquid``: the hidden balance line ``beam-blocks.js`` fills
    from Beam, and the link that opens the panel."""
    s = block_settings("account-points.liquid")
    return {
        "attrs": [
            ("data-beam-account-points", ""),
            ("data-proxy", reverse("devstore:storefront", args=[shop.domain]) + "apps/beam"),
            ("data-locale", locale),
            ("data-text", _block_text("account_points", "balance")),
        ],
        "open": locale_strings()["account_points"]["open"],
        "color": s["color"],
        "script": reverse("devstore:theme_asset", args=["beam-blocks.js"]),
    }
