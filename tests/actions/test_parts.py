"""The building blocks on their own: the record registry, tokens, body parsing, odd inputs."""

from __future__ import annotations

import pytest
from django.core import signing
from django.core.exceptions import ImproperlyConfigured

from engine.effects import email_tracking
from engine.effects.channels import ChannelError
from engine.effects.channels.locmem import LocMemBackend
from engine.effects.outbound import parse_body
from engine.effects.record_registry import (
    RecordRefused,
    clean_record_fields,
    record_type,
    record_types,
)
from engine.triggers import tracking
from tests.actions.conftest import log_of
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db


class BrokenPhoneLine(LocMemBackend):
    def place_call(self, call):
        raise ChannelError("carrier unreachable", transient=True)


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"model": "crm.Nope", "fields": []}, "bad model"),
        ({"model": "crm.Tenant", "fields": ["name"]}, "crm.Tenant has no tenant field"),
        ({"model": "crm.Task", "fields": ["tenant", "ghost"]}, "tenant, ghost cannot be exposed"),
    ],
)
def test_a_misconfigured_registry_fails_loudly(settings, entry, error):
    settings.STUDIO_RECORD_MODELS = {"thing": entry}
    with pytest.raises(ImproperlyConfigured, match=error):
        record_type("thing")


def test_the_registry_lists_its_types_and_cleans_values():
    assert [(t.name, t.label) for t in record_types()] == [
        ("task", "crm.Task"),
        ("booking", "crm.Booking"),
    ]
    booking = record_type("BOOKING")
    cleaned = clean_record_fields(booking, {"contact": "", "ends_at": None, "title": "x"})
    assert cleaned == {"contact_id": None, "ends_at": None, "title": "x"}
    with pytest.raises(
        RecordRefused, match=r"crm\.Booking\.status: Value 'maybe' is not a valid choice"
    ):
        clean_record_fields(booking, {"status": "maybe"})


def test_a_token_without_a_key_is_refused():
    token = email_tracking.make_token("open", {"x": 1})
    with pytest.raises(signing.BadSignature):
        email_tracking.read_token("open", token)


def test_tracking_an_email_nobody_sent_changes_nothing():
    assert tracking.record_open(token=email_tracking.make_token("open", {"k": "enr0:x:1"})) is False


def test_a_body_that_looks_like_json_but_is_not_stays_text():
    assert parse_body(b"{not json", "text/plain") == "{not json"
    assert parse_body(b"[1, 2]", "") == [1, 2]


def test_a_failing_phone_line_retries_the_call(tenant, contact, assets, run, settings):
    settings.STUDIO_CHANNEL_BACKENDS = {"default": f"{__name__}.BrokenPhoneLine"}
    step = {"id": "ring", "type": "make_call", "config": {"voicemail_drop_id": "intro"}}
    enrollment = run(tenant, contact, [step])
    assert enrollment.status == Enrollment.Status.WAITING
    assert "carrier unreachable" in log_of(enrollment, "ring").error_message


def test_create_record_fields_must_be_a_mapping(tenant, contact, run):
    step = {
        "id": "rec",
        "type": "create_record",
        "config": {"model": "task", "fields": "{{contact.tags}}"},
    }
    enrollment = run(tenant, contact, [step])
    assert "create_record.fields must be a mapping" in log_of(enrollment, "rec").error_message
