"""Phone numbers in one form: E.164 (``+15550100199``), on save and on lookup alike.

Parsing is the ``phonenumbers`` library's (a port of Google's libphonenumber, kept current
with the numbering plans); a number written in national form (``(555) 010-0199``) is read in
the tenant's default region (``Tenant.phone_region``, an ISO 3166 alpha-2 code). A number
that cannot be read is a ``PhoneNumberInvalid`` naming the value and why: never a new contact.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models


class PhoneNumberInvalid(ValueError):
    """``value`` is not a phone number that can be written in E.164; the message says why."""

    def __init__(self, value: str, reason: str, *, where: str = "phone"):
        self.value = value
        self.reason = reason
        super().__init__(f"{where}: '{value}' is not a phone number ({reason})")


def to_e164(value: Any, *, region: str | None = None, where: str = "phone") -> str:
    """``value`` as E.164 (``+<country><number>``); ``""`` stays ``""``.

    ``region`` (ISO 3166 alpha-2, e.g. ``US``) reads national forms; without it a number
    must start with ``+``. Raises PhoneNumberInvalid when the text is not a possible number
    (letters, too short or long, an unknown country code).
    """
    text = str(value if value is not None else "").strip()
    if not text:
        return ""
    region = (region or "").upper() or None
    if region is None and not text.startswith(("+", "00")):
        raise PhoneNumberInvalid(
            text, "no country code and the tenant has no default phone region", where=where
        )
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneNumberInvalid(text, _reason(exc), where=where) from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneNumberInvalid(text, "wrong number of digits for its country", where=where)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _reason(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "not a number")


def tenant_region(tenant_id: Any) -> str:
    """The tenant's default phone region (``""`` when it has none or does not exist)."""
    # Looked up by name: models.py uses PhoneField from here.
    row = (
        apps.get_model("crm", "Tenant")
        .objects.filter(pk=tenant_id)
        .values_list("phone_region", flat=True)
        .first()
    )
    return row or ""


def tenant_e164(value: Any, *, tenant_id: Any, where: str = "phone") -> str:
    """``to_e164`` in the tenant's default region; the region is read only when needed."""
    text = str(value if value is not None else "").strip()
    if not text or text.startswith(("+", "00")):
        return to_e164(text, where=where)
    return to_e164(text, region=tenant_region(tenant_id), where=where)


def is_phone_channel(channel: str) -> bool:
    """SMS, WhatsApp and voice address people by phone number; email and web chat do not."""
    return channel in ("sms", "whatsapp", "voice")


class PhoneField(models.CharField):
    """A CharField that stores E.164, read in the row's tenant's default region.

    Normalised on ``full_clean`` (forms: a ValidationError on the field) and again just before
    every save (so a write that skips validation cannot store another form; an unreadable
    number there raises PhoneNumberInvalid). Needs a ``tenant_id`` on the instance.
    """

    def clean(self, value: Any, model_instance: models.Model) -> str:
        value = super().clean(value, model_instance)
        try:
            tenant_id = getattr(model_instance, "tenant_id", None)
            return tenant_e164(value, tenant_id=tenant_id, where=self.name)
        except PhoneNumberInvalid as exc:
            raise ValidationError(str(exc), code="invalid_phone") from None

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = getattr(model_instance, self.attname)
        normalised = tenant_e164(value, tenant_id=model_instance.tenant_id, where=self.name)
        setattr(model_instance, self.attname, normalised)
        return normalised


def sample_mobile(region: str | None) -> str:
    """A valid mobile number of ``region`` (ISO 3166 alpha-2; US when empty) in E.164, from
    libphonenumber's own example numbers: for sample contacts, never a real subscriber's."""
    example = phonenumbers.example_number_for_type(
        (region or "US").upper(), phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number_for_type("US", phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
