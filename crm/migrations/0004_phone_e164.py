import crm.phones
from django.db import migrations, models


def normalise_existing(apps, schema_editor):
    # Rows saved before phones were normalised: rewrite those that read as E.164; leave the
    # rest as they are (a later save reports them).
    for model, fields in (("Contact", ("phone",)), ("Call", ("from_number", "to_number"))):
        rows = apps.get_model("crm", model).objects.all()
        for row in rows.iterator():
            changed = {}
            for name in fields:
                try:
                    value = crm.phones.to_e164(getattr(row, name))
                except crm.phones.PhoneNumberInvalid:
                    continue
                if value != getattr(row, name):
                    changed[name] = value
            if changed:
                rows.filter(pk=row.pk).update(**changed)


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0003_same_tenant_triggers'),
    ]

    operations = [
        # Written out so SQLite adds a column instead of rebuilding tables (which would trip
        # and drop the same-tenant triggers); PhoneField's column is a CharField's.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name='tenant',
                    name='phone_region',
                    field=models.CharField(blank=True, default='', help_text='ISO country code (e.g. US) for phone numbers written without +country', max_length=2),
                ),
                migrations.AlterField(
                    model_name='call',
                    name='from_number',
                    field=crm.phones.PhoneField(blank=True, max_length=32),
                ),
                migrations.AlterField(
                    model_name='call',
                    name='to_number',
                    field=crm.phones.PhoneField(blank=True, max_length=32),
                ),
                migrations.AlterField(
                    model_name='contact',
                    name='phone',
                    field=crm.phones.PhoneField(blank=True, help_text='Stored as E.164, e.g. +4930123456', max_length=32),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE crm_tenant ADD COLUMN phone_region varchar(2) NOT NULL DEFAULT ''",
                    'ALTER TABLE crm_tenant DROP COLUMN phone_region',
                ),
            ],
        ),
        migrations.RunPython(normalise_existing, migrations.RunPython.noop),
    ]
