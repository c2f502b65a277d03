"""Storefront byte budget: raw and gzipped sizes of the launcher and the on-demand panel.

Prints one line per file, the totals against the budgets, and ends with one JSON line
(``launcher_raw_bytes``, ``launcher_gz_bytes``, ``panel_raw_bytes``, ``panel_gz_bytes``,
``within_budget``). The panel is what one shopper downloads on first open: its scripts, its
stylesheet and the largest of the locale files (a shopper loads at most one).
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "extensions" / "beam-theme" / "assets"
LAUNCHER_FILES = ("beam-launcher.js",)
PANEL_FILES = ("beam-panel.js", "beam-panel-views.js", "beam-panel.css")
LOCALE_GLOB = "beam-i18n-*.js"
LAUNCHER_GZ_BUDGET = 6_000
PANEL_GZ_BUDGET = 25_000
JS_FILE_RAW_BUDGET = 10_000  # the platform's theme linter limit per JavaScript file


def gz_size(data: bytes) -> int:
    """Gzip level 9 with a fixed mtime, so the figure is reproducible."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


@dataclass
class Measurement:
    files: dict[str, tuple[int, int]]  # name -> (raw bytes, gzipped bytes)
    panel_files: list[str]
    totals: dict[str, int | bool]


def measure(assets: Path = ASSETS) -> Measurement:
    """Sizes of every storefront asset and the launcher/panel totals against the budgets."""
    blobs = {p.name: p.read_bytes() for p in sorted(assets.iterdir()) if p.is_file()}
    files = {n: (len(b), gz_size(b)) for n, b in blobs.items()}
    locales = [n for n in files if Path(n).match(LOCALE_GLOB)]
    panel = [*PANEL_FILES, *([max(locales, key=lambda n: files[n][1])] if locales else [])]
    totals: dict[str, int | bool] = {
        "launcher_raw_bytes": sum(files[n][0] for n in LAUNCHER_FILES),
        "launcher_gz_bytes": sum(files[n][1] for n in LAUNCHER_FILES),
        "panel_raw_bytes": sum(files[n][0] for n in panel),
        "panel_gz_bytes": sum(files[n][1] for n in panel),
    }
    js_ok = all(raw <= JS_FILE_RAW_BUDGET for n, (raw, _) in files.items() if n.endswith(".js"))
    totals["within_budget"] = bool(
        js_ok
        and totals["launcher_gz_bytes"] <= LAUNCHER_GZ_BUDGET
        and totals["panel_gz_bytes"] <= PANEL_GZ_BUDGET
    )
    return Measurement(files, panel, totals)


def main() -> int:
    result = measure()
    for name, (raw, gzipped) in result.files.items():
        print(f"{name:28} raw {raw:>7,} B   gzip {gzipped:>6,} B")
    t = result.totals
    print(
        f"launcher: gzip {t['launcher_gz_bytes']:,} / {LAUNCHER_GZ_BUDGET:,} B; "
        f"every JS file raw <= {JS_FILE_RAW_BUDGET:,} B"
    )
    print(
        f"panel ({', '.join(result.panel_files)}): "
        f"gzip {t['panel_gz_bytes']:,} / {PANEL_GZ_BUDGET:,} B"
    )
    print(json.dumps(t))
    return 0 if t["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
