"""The theme app extension's blocks, locales and translations, and the platform's linter."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "extensions" / "beam-theme"


def schema(block: str) -> dict:
    text = (EXT / "blocks" / block).read_text()
    return json.loads(text.split("{% schema %}")[1].split("{% endschema %}")[0])


def english_strings() -> dict[str, str]:
    """The panel's English texts: beam-panel.js's table and the tier and ways-to-earn texts
    it merges in."""
    strings: dict[str, str] = {}
    for name, start, end in (
        ("beam-panel.js", "var EN = {", "};"),
        ("beam-panel-tiers.js", "B.en = {", "};"),
        ("beam-panel-earn.js", "B.en = Object.assign(B.en || {}, {", "});"),
        ("beam-panel-referrals.js", "B.en = Object.assign(B.en || {}, {", "});"),
    ):
        source = (EXT / "assets" / name).read_text()
        body = source.split(start)[1].split(end)[0]
        strings.update(re.findall(r"(\w+): '((?:[^'\\]|\\.)*)'", body))
    return strings


def test_launcher_embed_targets_body_and_renders_the_config_holder() -> None:
    text = (EXT / "blocks" / "launcher-embed.liquid").read_text()
    spec = schema("launcher-embed.liquid")

    assert spec["target"] == "body"
    # No look settings of its own: the look is the admin's Branding, published to the
    # installation's app data (one source for the store and the admin's preview).
    assert spec["settings"] == []
    assert "app.metafields.loyalty.branding.value" in text
    from devstore.theme_embed import LAUNCHER_DEFAULTS

    for key, default in LAUNCHER_DEFAULTS.items():  # the devstore renders the same defaults
        if not isinstance(default, bool):
            assert f"brand.{key} | default: '{default}'" in text
    holder = re.search(r'<div\s+id="beam-root"(.*?)></div>', text, re.S)
    assert holder is not None
    attrs = set(re.findall(r"(data-[\w-]+)=", holder.group(1)))
    assert attrs == {
        "data-proxy",
        "data-root",
        "data-customer",
        "data-locale",
        "data-panel-js",
        "data-panel-css",
        "data-i18n-js",
        "data-sign-up",
        "data-log-in",
        "data-color",
        "data-text-color",
        "data-position",
        "data-shape",
        "data-icon",
        "data-label",
        "data-mobile",
    }
    assert 'data-proxy="/apps/beam"' in text
    assert "<script src=\"{{ 'beam-launcher.js' | asset_url }}\" defer></script>" in text


def test_app_blocks_target_sections_and_ask_beam_for_their_figures() -> None:
    """No figure computed in Liquid (no second earning rule, no metafield nothing writes):
    ``beam-blocks.js`` fills them from the app proxy."""
    product = (EXT / "blocks" / "product-points.liquid").read_text()
    account = (EXT / "blocks" / "account-points.liquid").read_text()
    script = "<script src=\"{{ 'beam-blocks.js' | asset_url }}\" defer></script>"

    assert schema("product-points.liquid")["target"] == "section"
    assert schema("account-points.liquid")["target"] == "section"
    assert "metafields" not in product and "metafields" not in account
    assert "times:" not in product
    assert 'data-price="{{ variant.price }}"' in product
    assert 'data-product="{{ product.id }}"' in product
    assert "data-beam-product-points" in product and "data-beam-account-points" in account
    assert script in product and script in account
    assert 'href="#beam-rewards"' in account
    blocks = (EXT / "assets" / "beam-blocks.js").read_text()
    assert "'/api/me'" in blocks and "'/api/product_points?price='" in blocks
    # a logged-in customer asks for their own figure (tier multiplier) on another URL
    assert "{%- if customer %} data-member{% endif %}" in product
    assert "el.hasAttribute('data-member') ? '&member=1' : ''" in blocks


def test_every_locale_file_has_the_same_keys() -> None:
    def keys(data: dict, prefix: str = "") -> set[str]:
        out: set[str] = set()
        for k, v in data.items():
            out |= keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
        return out

    for kind in ("", ".schema"):
        default = keys(json.loads((EXT / "locales" / f"en.default{kind}.json").read_text()))
        for lang in ("fr", "de", "es"):
            assert keys(json.loads((EXT / "locales" / f"{lang}{kind}.json").read_text())) == default


def test_panel_translations_cover_every_english_string() -> None:
    english = english_strings()
    assert len(english) == 94
    for lang in ("fr", "de", "es"):
        source = (EXT / "assets" / f"beam-i18n-{lang}.js").read_text()
        strings = json.loads(source[source.index("= {") + 2 : source.rindex("}") + 1])
        assert set(strings) == set(english), lang
        for key, text in strings.items():
            assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", english[key]))


def test_the_editable_shopper_texts_default_to_the_panels_own_english() -> None:
    """A key the merchant can edit in Shopper texts shows the panel's own default, so an
    untouched field and the panel read the same (the tier texts included)."""
    from loyalty.forms import SHOPPER_TEXT_DEFAULTS

    english = english_strings()
    shared = {k: v for k, v in SHOPPER_TEXT_DEFAULTS.items() if k in english}
    assert {"vip", "tier_spend", "tier_points", "tier_orders", "tier_until", "top_tier"} <= set(
        shared
    )
    assert {"tiers_title", "tier_from", "tier_x", "tier_entry", "orders"} <= set(shared)
    assert shared == {k: english[k] for k in shared}


@pytest.mark.skipif(shutil.which("npm") is None, reason="node/npm are not installed")
def test_theme_check_passes_with_the_app_extension_config() -> None:
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "theme_check.sh")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 error(s)" in run.stdout
