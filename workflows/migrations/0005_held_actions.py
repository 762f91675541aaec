from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('workflows', '0004_enroll_job'),
    ]

    operations = [
        migrations.AlterField(
            model_name='scheduledaction',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('claimed', 'Claimed'), ('held', 'Held (workflow paused)'), ('done', 'Done'), ('cancelled', 'Cancelled')], default='pending', max_length=20),
        ),
    ]
