"""`make run`'s SQLite serves concurrent writers: each waits its turn, none is refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.config.local_process import local_python

# Eight threads each run a read-then-write transaction at the same moment, as concurrent
# webhook drains do (get_or_create: SELECT, then INSERT), under the local settings.
WRITERS = """
import json, threading, time
from django.db import connection, transaction

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, seen INTEGER)")
connection.close()
barrier = threading.Barrier(8)
errors = []

def write():
    barrier.wait()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM t")
            seen = cursor.fetchone()[0]
            time.sleep(0.05)
            cursor.execute("INSERT INTO t (seen) VALUES (%s)", [seen])
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()

threads = [threading.Thread(target=write) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with connection.cursor() as cursor:
    cursor.execute("SELECT seen FROM t ORDER BY id")
    seen = [row[0] for row in cursor.fetchall()]
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()[0]
print(json.dumps({"errors": errors, "seen": seen, "mode": mode}))
"""


def test_concurrent_read_then_write_transactions_all_commit(tmp_path: Path) -> None:
    outcome = json.loads(local_python(WRITERS, tmp_path / "db.sqlite3", timeout=120))

    assert outcome["errors"] == []
    # Serialised: each transaction saw every commit before it.
    assert outcome["seen"] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert outcome["mode"] == "wal"
