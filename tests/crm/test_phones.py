"""Phone numbers are stored and looked up as E.164, read in the tenant's default region."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.forms_intake import FormIntakeError, form_submit
from crm.models import Call, Contact
from crm.phones import PhoneNumberInvalid, tenant_e164, to_e164
from tests.cast import make_contact, make_tenant

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "written",
    ["+15550100199", "+1 (555) 010-0199", "+1-555-010-0199", "+1.555.010.0199", "0015550100199"],
)
def test_international_forms_become_one_e164_number(written):
    assert to_e164(written) == "+15550100199"


def test_a_national_form_is_read_in_the_given_region():
    assert to_e164("(555) 010-0199", region="US") == "+15550100199"
    assert to_e164("030 123456", region="de") == "+4930123456"


def test_a_national_form_without_a_region_is_refused_with_the_reason():
    with pytest.raises(PhoneNumberInvalid, match="no country code"):
        to_e164("(555) 010-0199")


@pytest.mark.parametrize(
    ("written", "reason"),
    [("call me", "not a number"), ("+1 555", "digits"), ("+999 1234567", "country code")],
)
def test_unreadable_numbers_are_refused_naming_the_value(written, reason):
    with pytest.raises(PhoneNumberInvalid, match=reason) as caught:
        to_e164(written, region="US")
    assert f"'{written}'" in str(caught.value)


def test_blank_stays_blank():
    assert to_e164("  ") == ""
    assert to_e164(None) == ""


def test_a_contact_is_saved_in_e164_in_its_tenants_region():
    tenant = make_tenant(phone_region="US")
    contact = make_contact(tenant, phone="(555) 010-0199")
    contact.refresh_from_db()
    assert contact.phone == "+15550100199"


def test_saving_an_unreadable_contact_phone_raises_instead_of_storing_it():
    tenant = make_tenant()
    with pytest.raises(PhoneNumberInvalid, match="phone: 'abc'"), transaction.atomic():
        make_contact(tenant, phone="abc")
    assert not Contact.objects.filter(tenant=tenant).exists()


def test_full_clean_reports_the_phone_field_for_forms_and_the_admin():
    tenant = make_tenant()
    contact = Contact(tenant=tenant, phone="555 0100")
    with pytest.raises(ValidationError) as caught:
        contact.full_clean()
    assert "no country code" in caught.value.message_dict["phone"][0]
    contact.phone = "+1 (555) 010-0199"
    contact.full_clean()
    assert contact.phone == "+15550100199"


def test_call_numbers_are_stored_in_e164():
    tenant = make_tenant(phone_region="US")
    contact = make_contact(tenant)
    call = Call.objects.create(
        tenant=tenant,
        contact=contact,
        direction="inbound",
        status="completed",
        from_number="(555) 010-0199",
        to_number="+1-555-010-0100",
    )
    call.refresh_from_db()
    assert (call.from_number, call.to_number) == ("+15550100199", "+15550100100")


def test_tenant_e164_reads_the_region_of_that_tenant():
    us, de = make_tenant(phone_region="US"), make_tenant(phone_region="DE")
    assert tenant_e164("(555) 010-0199", tenant_id=us.pk) == "+15550100199"
    assert tenant_e164("030 123456", tenant_id=de.pk) == "+4930123456"


def test_a_form_submission_finds_the_contact_whatever_the_phone_format():
    tenant = make_tenant(phone_region="US")
    known = make_contact(tenant, email="", phone="+15550100199")
    found = form_submit(tenant=tenant, form="trial", fields={"phone": "(555) 010-0199"})
    assert found.pk == known.pk
    assert Contact.objects.filter(tenant=tenant).count() == 1


def test_a_form_submission_with_an_unreadable_phone_is_an_error_not_a_contact():
    tenant = make_tenant()
    with pytest.raises(FormIntakeError, match="form 'trial': phone: 'n/a'"):
        form_submit(tenant=tenant, form="trial", fields={"phone": "n/a"})
    assert not Contact.objects.filter(tenant=tenant).exists()
