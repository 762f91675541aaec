"""Triggers refusing cross-tenant links between CRM rows (see crm.db_triggers)."""

from django.conf import settings
from django.db import migrations

from crm.db_triggers import SameTenant, installer

CONTACT_OF_TENANT = (
    "EXISTS (SELECT 1 FROM crm_contact c WHERE c.id = NEW.contact_id AND c.tenant_id = NEW.tenant_id)"
)


def rules(apps):
    if settings.STUDIO_CONTACT_MODEL != "crm.Contact":
        contact_rules = []  # a host CRM's contacts: its own model says how they link
    else:
        contact_rules = [
            SameTenant(f"studio_{table}_contact_tenant", f"crm_{table}", "contact_id",
                       ("contact_id", "tenant_id"), CONTACT_OF_TENANT)
            for table in ("message", "call", "booking", "task")
        ] + [
            SameTenant(
                "studio_contacttag_tenant", "crm_contacttag", "tag_id", ("contact_id", "tag_id"),
                "EXISTS (SELECT 1 FROM crm_contact c JOIN crm_tag t ON t.tenant_id = c.tenant_id"
                " WHERE c.id = NEW.contact_id AND t.id = NEW.tag_id)",
                "is a tag of another tenant than the contact's",
            )
        ]
    return contact_rules + [
        SameTenant(
            "studio_task_assignee_member", "crm_task", "assigned_to_id",
            ("assigned_to_id", "tenant_id"),
            "EXISTS (SELECT 1 FROM crm_tenantmembership m"
            " WHERE m.tenant_id = NEW.tenant_id AND m.user_id = NEW.assigned_to_id)",
            "is not a member of the task's tenant",
        )
    ]


forward, backward = installer(rules)


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_contact_email_ci_index")]

    operations = [migrations.RunPython(forward, backward)]
