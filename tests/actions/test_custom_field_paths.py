"""One rule for custom field paths: dots nest, on write as on read; unknown reads are warned."""

from __future__ import annotations

import pytest

from crm.models import Contact
from engine.definition import load_definition
from engine.dryrun import dry_run
from engine.effects.channels import locmem
from tests.actions.conftest import log_of
from tests.cast import make_contact
from workflows.models import Enrollment
from workflows.services import definition_validate

pytestmark = pytest.mark.django_db

SET_SIZE = {
    "id": "size",
    "type": "update_contact",
    "config": {"fields": {"custom_fields.company.size": "50"}},
}
BRANCH = {
    "id": "big",
    "type": "condition",
    "config": {
        "if": {"field": "custom_fields.company.size", "operator": "gte", "value": 50},
        "then": "say_big",
        "else": "say_small",
    },
}
SAY_BIG = {
    "id": "say_big",
    "type": "send_sms",
    "config": {"message": "Big: {{ contact.custom_fields.company.size }}"},
    "next": "end",
}
SAY_SMALL = {"id": "say_small", "type": "send_sms", "config": {"message": "Small"}}


def test_a_dotted_write_nests_and_the_next_condition_and_template_read_it(tenant, contact, run):
    enrollment = run(tenant, contact, [SET_SIZE, BRANCH, SAY_BIG, SAY_SMALL])
    contact.refresh_from_db()
    assert contact.custom_fields == {"company": {"size": "50"}}
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert [m.body for m in locmem.outbox] == ["Big: 50"]


def test_a_dotted_key_inside_the_custom_fields_mapping_nests_the_same(tenant, run):
    contact = make_contact(tenant, custom_fields={"company": {"name": "Acme"}})
    step = {
        "id": "set",
        "type": "update_contact",
        "config": {"fields": {"custom_fields": {"company.size": 7, "plan": "gold"}}},
    }
    run(tenant, contact, [step])
    contact.refresh_from_db()
    assert contact.custom_fields == {"company": {"name": "Acme", "size": 7}, "plan": "gold"}


def test_writing_inside_a_field_that_holds_a_plain_value_fails_clearly(tenant, run):
    contact = make_contact(tenant, custom_fields={"company": "Acme"})
    enrollment = run(tenant, contact, [SET_SIZE])
    assert enrollment.status == Enrollment.Status.FAILED
    assert (
        "update_contact: cannot set 'custom_fields.company.size': custom_fields.company holds "
        "'Acme', not a set of fields" in log_of(enrollment, "size").error_message
    )
    assert Contact.objects.get(pk=contact.pk).custom_fields == {"company": "Acme"}


@pytest.mark.parametrize("name", ["custom_fields.company..size", "custom_fields.a b"])
def test_a_malformed_path_is_refused_naming_it(tenant, contact, run, name):
    step = {"id": "bad", "type": "update_contact", "config": {"fields": {name: 1}}}
    enrollment = run(tenant, contact, [step])
    assert f"'{name}' is not a custom field path" in log_of(enrollment, "bad").error_message


def test_a_dry_run_nests_the_same_way(tenant):
    definition = {
        "name": "Sizes",
        "trigger": {"type": "manual"},
        "steps": [SET_SIZE, BRANCH, SAY_BIG, SAY_SMALL],
    }
    report = dry_run(definition=definition, contact={"first_name": "Ann"}, tenant_id=tenant.pk)
    assert report.path[-1] == "say_big"


def reads_size(*steps):
    return load_definition(
        {
            "name": "Reads",
            "trigger": {"type": "manual"},
            "steps": [*steps, BRANCH, SAY_BIG, SAY_SMALL],
        }
    )


def custom_warnings(result) -> list[str]:
    return [str(w) for w in result.warnings if "custom_fields." in w.message]


def test_validation_warns_when_a_read_path_is_written_nowhere_and_unknown(tenant):
    result = definition_validate(tenant=tenant, definition=reads_size())
    # One warning per path, at its first read (the template in steps[1] reads it too).
    [warning] = custom_warnings(result)
    assert warning.startswith("steps[0].config.if")
    assert "reads custom_fields.company.size, which no step writes and no contact has" in warning


def test_no_warning_when_a_step_writes_the_path_or_a_parent(tenant):
    assert (
        custom_warnings(definition_validate(tenant=tenant, definition=reads_size(SET_SIZE))) == []
    )
    parent = {
        "id": "company",
        "type": "update_contact",
        "config": {"fields": {"custom_fields": {"company": {"size": 1}}}},
    }
    assert custom_warnings(definition_validate(tenant=tenant, definition=reads_size(parent))) == []


def test_no_warning_when_a_contact_of_the_tenant_has_the_field(tenant):
    make_contact(tenant, custom_fields={"company": {"size": "10"}})
    assert custom_warnings(definition_validate(tenant=tenant, definition=reads_size())) == []


def test_a_flat_key_with_a_dot_is_not_the_nested_path(tenant):
    make_contact(tenant, custom_fields={"company.size": "10"})
    assert len(custom_warnings(definition_validate(tenant=tenant, definition=reads_size()))) == 1
