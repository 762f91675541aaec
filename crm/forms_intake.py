"""Form submissions: find or create the contact, then announce ``form_submitted``."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from engine.triggers.api import announce

from .models import Contact, Tenant
from .phones import PhoneNumberInvalid, tenant_e164

_CONTACT_FIELDS = ("email", "phone", "first_name", "last_name")


class FormIntakeError(ValueError):
    """The submission names no way to find the contact, or its phone cannot be read."""


@transaction.atomic
def form_submit(*, tenant: Tenant, form: str, fields: dict[str, Any]) -> Contact:
    """Record a submission of ``form``: the contact is found by email, then phone, or created."""
    email = str(fields.get("email") or "").strip()
    try:
        phone = tenant_e164(fields.get("phone"), tenant_id=tenant.pk, where="phone")
    except PhoneNumberInvalid as exc:
        raise FormIntakeError(f"form '{form}': {exc}") from None
    if not email and not phone:
        raise FormIntakeError(f"form '{form}': a submission needs an email or a phone field")
    contacts = Contact.objects.filter(tenant=tenant)
    contact = (email and contacts.filter(email__iexact=email).order_by("pk").first()) or (
        phone and contacts.filter(phone=phone).order_by("pk").first()
    )
    if not contact:
        values = {k: str(fields[k]).strip() for k in _CONTACT_FIELDS if fields.get(k)}
        values["phone"] = phone
        contact = Contact.objects.create(tenant=tenant, source=f"form:{form}"[:100], **values)
    announce(
        kinds=["form_submitted"],
        tenant_id=tenant.pk,
        contact_id=contact.pk,
        data={"form": form, "fields": dict(fields)},
    )
    return contact
