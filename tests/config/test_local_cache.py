"""`make run`'s processes share one cache: what one drops, the others stop serving."""

from __future__ import annotations

from pathlib import Path

from tests.config.local_process import local_python

CACHE = "from django.core.cache import cache\n"


def test_a_write_in_one_process_is_seen_by_another(tmp_path: Path) -> None:
    sqlite_path = tmp_path / "db.sqlite3"
    local_python(CACHE + "cache.set('me:v', 1, 600)", sqlite_path)

    # e.g. the expiry job (manage.py) drops a member's version; runserver must see it.
    assert local_python(CACHE + "print(cache.get('me:v'))", sqlite_path) == "1"
    local_python(CACHE + "cache.delete('me:v')", sqlite_path)
    assert local_python(CACHE + "print(cache.get('me:v'))", sqlite_path) == "None"
    assert (tmp_path / "db.sqlite3-cache").is_dir()
