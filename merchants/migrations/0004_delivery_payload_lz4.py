"""Inbox payloads compressed with LZ4 instead of PostgreSQL's default pglz.

Order payloads are a few kilobytes, so most are compressed when stored; pglz made that the
largest single cost of an insert on a burst. LZ4 compresses several times faster (and
decompresses faster for the drain). PostgreSQL only (other databases skip it); a server
built without LZ4 keeps pglz.
"""

from django.db import migrations

COLUMNS = ("payload", "headers")


def _compression_set(schema_editor, method: str) -> None:  # noqa: ANN001
    """Set ``method`` on the JSON columns (PostgreSQL only; LZ4 only where the server has it)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
            [method],
        )
        if not cursor.fetchone()[0]:
            return
        for column in COLUMNS:
            cursor.execute(
                f"ALTER TABLE merchants_webhookdelivery ALTER COLUMN {column}"
                f" SET COMPRESSION {method}"
            )


def _lz4(apps, schema_editor) -> None:  # noqa: ANN001
    _compression_set(schema_editor, "lz4")


def _pglz(apps, schema_editor) -> None:  # noqa: ANN001
    _compression_set(schema_editor, "pglz")


class Migration(migrations.Migration):
    dependencies = [("merchants", "0003_delivery_lean_indexes")]

    operations = [migrations.RunPython(_lz4, _pglz)]
