"""Fewer indexes on the tables every credited order writes (ledger entries, orders, refunds):
single-column key indexes that composite indexes already lead with are dropped, the
order-email index (two, with its ``LIKE`` twin) becomes a partial index of guest orders, and
the release index holds only orders with pending points. Foreign keys stay."""

import django.db.models.deletion
from django.db import migrations, models


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
