"""Run Python in a fresh process under the local settings (`make run`'s), on its own SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_UNSET = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "BEAM_CACHE_DIR"}


def local_python(code: str, sqlite_path: Path, *, timeout: float = 60) -> str:
    """``code`` run after ``django.setup()`` with nothing configured but the SQLite path, as
    a newcomer's `make run`; its stdout, stripped."""
    env = {key: value for key, value in os.environ.items() if key not in _UNSET}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.local", "BEAM_SQLITE_PATH": str(sqlite_path)}
    done = subprocess.run(
        [sys.executable, "-c", "import django\ndjango.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout.strip()
