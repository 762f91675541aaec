"""The shared cast of the test suite: tenants, staff, contacts and small workflows.

Plain functions (no factory library), so every test reads what it builds.
"""

from __future__ import annotations

import hashlib
import json
from itertools import count
from typing import Any

from django.contrib.auth import get_user_model

from crm.models import Contact, ContactTag, Tag, Tenant, TenantMembership
from workflows.models import Workflow, WorkflowVersion

_serial = count(1)


def make_tenant(slug: str | None = None, **fields: Any) -> Tenant:
    slug = slug or f"tenant-{next(_serial)}"
    return Tenant.objects.create(slug=slug, name=fields.pop("name", slug.title()), **fields)


def make_staff(tenant: Tenant | None = None, username: str | None = None, **fields: Any):
    user = get_user_model().objects.create_user(
        username=username or f"staff{next(_serial)}", password="pw", is_staff=True, **fields
    )
    if tenant is not None:
        TenantMembership.objects.create(tenant=tenant, user=user)
    return user


def make_contact(tenant: Tenant, *, tags: list[str] = (), **fields: Any) -> Contact:
    n = next(_serial)
    fields.setdefault("first_name", f"Ann{n}")
    fields.setdefault("last_name", "Lee")
    fields.setdefault("email", f"ann{n}@example.com")
    fields.setdefault("phone", f"+4915100{n:05d}")
    contact = Contact.objects.create(tenant=tenant, **fields)
    for name in tags:
        add_tag(contact, name)
    return contact


def add_tag(contact: Contact, name: str) -> None:
    tag, _ = Tag.objects.get_or_create(tenant_id=contact.tenant_id, name=name)
    ContactTag.objects.get_or_create(contact=contact, tag=tag)


def make_published(tenant: Tenant, definition: dict[str, Any], **fields: Any) -> Workflow:
    """An active workflow whose published version is ``definition``, as-is (no validation)."""
    trigger = definition.get("trigger") or {}
    workflow = Workflow.objects.create(
        tenant=tenant,
        name=definition.get("name") or f"Workflow {next(_serial)}",
        status=fields.pop("status", Workflow.Status.ACTIVE),
        trigger_type=trigger.get("type", "manual"),
        trigger_config=trigger.get("config") or {},
        trigger_filters=trigger.get("filters") or [],
        settings=definition.get("settings") or {},
        **fields,
    )
    publish_raw(workflow, definition)
    return workflow


def publish_raw(workflow: Workflow, definition: dict[str, Any]) -> WorkflowVersion:
    number = workflow.versions.count() + 1
    version = WorkflowVersion.objects.create(
        workflow=workflow,
        number=number,
        definition=definition,
        checksum=hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest(),
    )
    workflow.published_version = version
    workflow.save(update_fields=["published_version"])
    return version
