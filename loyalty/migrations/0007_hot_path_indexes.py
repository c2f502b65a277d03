"""Fewer indexes on the tables every credited order writes (ledger entries, orders, refunds):
single-column key indexes that composite indexes already lead with are dropped, the
order-email index (two, with its ``LIKE`` twin) becomes a partial index of guest orders, and
the release index holds only orders with pending points. Foreign keys stay.

The key indexes are dropped by name: ``AlterField(db_index=False)`` on a foreign key would
drop and re-add the constraint, re-validating every row of the ledger under a lock."""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, index) as migration 0001 created them; the ``_like`` twin is PostgreSQL's.
DROPPED = [
    ("loyalty_ledgerentry", "member_id", "loyalty_ledgerentry_member_id_92bf20bb"),
    ("loyalty_ledgerentry", "shop_id", "loyalty_ledgerentry_shop_id_249ebcbb"),
    ("loyalty_loyaltyorder", "shop_id", "loyalty_loyaltyorder_shop_id_e16aa9af"),
    ("loyalty_orderrefund", "shop_id", "loyalty_orderrefund_shop_id_9452059b"),
    ("loyalty_loyaltyorder", "email", "loyalty_loyaltyorder_email_68ddbe3d"),
]
EMAIL_LIKE = "loyalty_loyaltyorder_email_68ddbe3d_like"


def _indexes_drop(apps, schema_editor) -> None:  # noqa: ANN001
    qn = schema_editor.quote_name
    for _, _, index in DROPPED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {qn(index)}")
    schema_editor.execute(f"DROP INDEX IF EXISTS {qn(EMAIL_LIKE)}")


def _indexes_create(apps, schema_editor) -> None:  # noqa: ANN001
    qn = schema_editor.quote_name
    for table, column, index in DROPPED:
        schema_editor.execute(f"CREATE INDEX {qn(index)} ON {qn(table)} ({qn(column)})")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {qn(EMAIL_LIKE)} ON loyalty_loyaltyorder (email varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0006_analytics_indexes"),
        ("merchants", "0005_delivery_lean_writes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="loyaltyorder",
            name="loyaltyorder_release_idx",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="member",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entries",
                        to="loyalty.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="shop",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.shop",
                    ),
                ),
                migrations.AlterField(
                    model_name="loyaltyorder",
                    name="email",
                    field=models.CharField(blank=True, max_length=254),
                ),
                migrations.AlterField(
                    model_name="loyaltyorder",
                    name="shop",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.shop",
                    ),
                ),
                migrations.AlterField(
                    model_name="orderrefund",
                    name="shop",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="merchants.shop",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(_indexes_drop, _indexes_create)],
        ),
        migrations.AddIndex(
            model_name="loyaltyorder",
            index=models.Index(
                condition=models.Q(("points_pending__gt", 0)),
                fields=["release_at"],
                name="loyaltyorder_release_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="loyaltyorder",
            index=models.Index(
                condition=models.Q(("state", "guest")),
                fields=["shop", "email"],
                name="loyaltyorder_guest_email_idx",
            ),
        ),
    ]
