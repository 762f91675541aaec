"""Triggers refusing cross-tenant links of workflows and enrollments (see crm.db_triggers)."""

from django.conf import settings
from django.db import migrations

from crm.db_triggers import SameTenant, installer


def rules(apps):
    contacts = apps.get_model(settings.STUDIO_CONTACT_MODEL)._meta.db_table
    return [
        SameTenant(
            "studio_enrollment_workflow_tenant", "workflows_enrollment", "workflow_id",
            ("workflow_id", "tenant_id"),
            "EXISTS (SELECT 1 FROM workflows_workflow w"
            " WHERE w.id = NEW.workflow_id AND w.tenant_id = NEW.tenant_id)",
        ),
        SameTenant(
            "studio_enrollment_contact_tenant", "workflows_enrollment", "contact_id",
            ("contact_id", "tenant_id"),
            f"EXISTS (SELECT 1 FROM {contacts} c"
            " WHERE c.id = NEW.contact_id AND c.tenant_id = NEW.tenant_id)",
        ),
        SameTenant(
            "studio_enrollment_version_workflow", "workflows_enrollment", "version_id",
            ("version_id", "workflow_id"),
            "EXISTS (SELECT 1 FROM workflows_workflowversion v"
            " WHERE v.id = NEW.version_id AND v.workflow_id = NEW.workflow_id)",
            "is a version of another workflow",
        ),
        SameTenant(
            "studio_workflowstep_prompt_tenant", "workflows_workflowstep", "prompt_id",
            ("prompt_id", "workflow_id"),
            "EXISTS (SELECT 1 FROM prompts_prompt p JOIN workflows_workflow w"
            " ON w.tenant_id = p.tenant_id WHERE p.id = NEW.prompt_id AND w.id = NEW.workflow_id)",
        ),
        SameTenant(
            "studio_workflow_published_version", "workflows_workflow", "published_version_id",
            ("published_version_id",),
            "EXISTS (SELECT 1 FROM workflows_workflowversion v"
            " WHERE v.id = NEW.published_version_id AND v.workflow_id = NEW.id)",
            "is a version of another workflow",
        ),
    ]


forward, backward = installer(rules)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0001_initial"),
        ("crm", "0003_same_tenant_triggers"),
        ("prompts", "0001_initial"),
        migrations.swappable_dependency(settings.STUDIO_CONTACT_MODEL),
    ]

    operations = [migrations.RunPython(forward, backward)]
