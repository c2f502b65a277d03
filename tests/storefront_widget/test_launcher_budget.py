"""Byte budgets of the storefront assets, measured on the files as shipped."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "extensions" / "beam-theme" / "assets"
LAUNCHER = ASSETS / "beam-launcher.js"
PANEL = [
    ASSETS / n
    for n in (
        "beam-panel.js",
        "beam-panel-views.js",
        "beam-panel-tiers.js",
        "beam-panel-earn.js",
        "beam-panel-referrals.js",
        "beam-panel.css",
    )
]
LOCALES = sorted(ASSETS.glob("beam-i18n-*.js"))


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def test_every_javascript_file_is_within_the_theme_linter_limit() -> None:
    scripts = sorted(ASSETS.glob("*.js"))
    assert {p.name for p in scripts} >= {"beam-launcher.js", "beam-panel.js", "beam-panel-views.js"}
    too_big = {p.name: p.stat().st_size for p in scripts if p.stat().st_size > 10_000}
    assert too_big == {}


def test_launcher_is_within_6_kb_gzipped_and_10_000_bytes_raw() -> None:
    assert LAUNCHER.stat().st_size <= 10_000
    assert gz(LAUNCHER) <= 6_000


def test_panel_is_within_25_kb_gzipped_with_the_largest_locale() -> None:
    assert len(LOCALES) == 3
    total = sum(gz(p) for p in PANEL) + max(gz(p) for p in LOCALES)
    assert total <= 25_000
    assert (ASSETS / "beam-panel.css").stat().st_size <= 100_000


def test_launcher_source_has_no_network_call_of_its_own() -> None:
    source = LAUNCHER.read_text()
    for api in ("fetch(", "XMLHttpRequest", "sendBeacon", "import(", "WebSocket", "EventSource"):
        assert api not in source, api
    # Besides its own button (and a <style> fallback), it only ever creates the panel's
    # <link>/<script> tags, inside load(), which runs on a click or the deep link.
    created = re.findall(r"createElement\('(\w+)'\)", source)
    assert created == ["button", "span", "style", "link", "script"]
    assert source.index("function load()") < source.index("createElement('link')")


def test_bench_reports_the_same_figures_and_within_budget() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "storefront.py"), "--bytes-only"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures == {
        "launcher_raw_bytes": LAUNCHER.stat().st_size,
        "launcher_gz_bytes": gz(LAUNCHER),
        "panel_raw_bytes": sum(p.stat().st_size for p in PANEL)
        + max(LOCALES, key=gz).stat().st_size,
        "panel_gz_bytes": sum(gz(p) for p in PANEL) + max(gz(p) for p in LOCALES),
        "within_budget": True,
    }
