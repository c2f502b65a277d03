# The customer's email marketing consent (customers/update carries it).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('devstore', '0002_devshop_taxes_included'),
    ]

    operations = [
        migrations.AddField(
            model_name='devcustomer',
            name='email_consent_updated_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='devcustomer',
            name='email_marketing_state',
            field=models.CharField(default='not_subscribed', max_length=16),
        ),
    ]
