"""`make run`'s processes share one cache: what one drops, the others stop serving."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _local_process(code: str, sqlite_path: Path) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "BEAM_CACHE_DIR"}
    }
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.local", "BEAM_SQLITE_PATH": str(sqlite_path)}
    setup = "import django; django.setup(); from django.core.cache import cache; "
    done = subprocess.run(
        [sys.executable, "-c", setup + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_a_write_in_one_process_is_seen_by_another(tmp_path: Path) -> None:
    sqlite_path = tmp_path / "db.sqlite3"
    _local_process("cache.set('me:v', 1, 600)", sqlite_path)

    # e.g. the expiry job (manage.py) drops a member's version; runserver must see it.
    assert _local_process("print(cache.get('me:v'))", sqlite_path) == "1"
    _local_process("cache.delete('me:v')", sqlite_path)
    assert _local_process("print(cache.get('me:v'))", sqlite_path) == "None"
    assert (tmp_path / "db.sqlite3-cache").is_dir()
