# Ways to earn other than orders (issue 15): earning actions, their awards, birthdays.

import django.db.models.deletion
from decimal import Decimal
from django.db import migrations, models


def birthdays_move(apps, schema_editor):
    Member = apps.get_model("loyalty", "Member")
    MemberBirthday = apps.get_model("loyalty", "MemberBirthday")
    rows = [
        MemberBirthday(shop_id=m.shop_id, member_id=m.pk, month=b.month, day=b.day, year=b.year)
        for m in Member.objects.exclude(birthday=None).only("pk", "shop_id", "birthday")
        for b in [m.birthday]
    ]
    MemberBirthday.objects.bulk_create(rows, batch_size=1000)


def birthdays_restore(apps, schema_editor):
    import datetime

    Member = apps.get_model("loyalty", "Member")
    MemberBirthday = apps.get_model("loyalty", "MemberBirthday")
    for b in MemberBirthday.objects.exclude(year=None).iterator():
        Member.objects.filter(pk=b.member_id).update(birthday=datetime.date(b.year, b.month, b.day))


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0013_tier_sync_entry_rewards_min_tier'),
        ('merchants', '0009_oauth_state_use'),
    ]

    operations = [
        migrations.CreateModel(
            name='ActionAward',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=200)),
                ('period', models.CharField(blank=True, max_length=16)),
                ('occurred_on', models.DateField()),
                ('points', models.IntegerField()),
                ('base_points', models.IntegerField()),
                ('tier_multiplier', models.DecimalField(decimal_places=4, default=Decimal('1'), max_digits=6)),
                ('source_ref', models.CharField(blank=True, max_length=128)),
                ('actor', models.CharField(blank=True, max_length=255)),
                ('reversed_at', models.DateTimeField(blank=True, null=True)),
                ('points_reversed', models.IntegerField(default=0)),
                ('reversal_reason', models.CharField(blank=True, max_length=255)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name='EarningAction',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('birthday', 'Birthday'), ('anniversary', 'Membership anniversary'), ('newsletter', 'Newsletter sign-up'), ('social_follow', 'Social follow'), ('social_share', 'Social share'), ('review', 'Product review'), ('review_photo', 'Review photo'), ('custom', 'Custom action')], max_length=24)),
                ('network', models.CharField(blank=True, max_length=16)),
                ('name', models.CharField(blank=True, max_length=64)),
                ('points', models.PositiveIntegerField(default=0)),
                ('enabled', models.BooleanField(default=False)),
                ('enabled_at', models.DateTimeField(blank=True, null=True)),
                ('limit', models.CharField(choices=[('once', 'Once'), ('day', 'Once a day'), ('month', 'Once a month'), ('year', 'Once a year')], default='once', max_length=8)),
                ('url', models.CharField(blank=True, max_length=500)),
                ('texts', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name='MemberBirthday',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.PositiveSmallIntegerField()),
                ('day', models.PositiveSmallIntegerField()),
                ('year', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='kind',
            field=models.CharField(choices=[('order_earn', 'Order Earn'), ('order_refund', 'Order Refund'), ('order_cancel', 'Order Cancel'), ('welcome', 'Welcome'), ('manual', 'Manual'), ('import', 'Import'), ('redeem', 'Redeem'), ('redeem_refund', 'Redeem Refund'), ('expire', 'Expire'), ('pending_release', 'Pending Release'), ('bonus', 'Bonus'), ('tier_entry', 'Tier Entry'), ('action', 'Action'), ('action_reversal', 'Action Reversal')], max_length=32),
        ),
        migrations.AddIndex(
            model_name='member',
            index=models.Index(fields=['shop', 'created_at'], name='member_shop_created_idx'),
        ),
        migrations.AddField(
            model_name='actionaward',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='action_awards', to='loyalty.member'),
        ),
        migrations.AddField(
            model_name='actionaward',
            name='shop',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='merchants.shop'),
        ),
        migrations.AddField(
            model_name='earningaction',
            name='shop',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='merchants.shop'),
        ),
        migrations.AddField(
            model_name='actionaward',
            name='action',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='awards', to='loyalty.earningaction'),
        ),
        migrations.AddField(
            model_name='memberbirthday',
            name='member',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='birthday_row', to='loyalty.member'),
        ),
        migrations.AddField(
            model_name='memberbirthday',
            name='shop',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='merchants.shop'),
        ),
        migrations.AddIndex(
            model_name='earningaction',
            index=models.Index(condition=models.Q(('enabled', True)), fields=['kind'], name='earningaction_on_idx'),
        ),
        migrations.AddConstraint(
            model_name='earningaction',
            constraint=models.UniqueConstraint(fields=('shop', 'kind', 'network', 'name'), name='earningaction_unique'),
        ),
        migrations.AddIndex(
            model_name='actionaward',
            index=models.Index(fields=['member', 'action', 'period'], name='actionaward_member_idx'),
        ),
        migrations.AddConstraint(
            model_name='actionaward',
            constraint=models.UniqueConstraint(fields=('shop', 'key'), name='actionaward_shop_key'),
        ),
        migrations.AddConstraint(
            model_name='actionaward',
            constraint=models.CheckConstraint(condition=models.Q(('points_reversed__lte', models.F('points'))), name='actionaward_reversed_lte_points'),
        ),
        migrations.AddIndex(
            model_name='memberbirthday',
            index=models.Index(fields=['shop', 'month', 'day'], name='memberbirthday_day_idx'),
        ),
        migrations.AddConstraint(
            model_name='memberbirthday',
            constraint=models.CheckConstraint(condition=models.Q(('day__gte', 1), ('day__lte', 31), ('month__gte', 1), ('month__lte', 12)), name='memberbirthday_valid'),
        ),
        # birthdays entered before move to their own rows (month, day, year), then the column goes
        migrations.RunPython(birthdays_move, birthdays_restore),
        migrations.RemoveField(
            model_name='member',
            name='birthday',
        ),
    ]
