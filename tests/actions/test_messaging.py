from __future__ import annotations

import pytest

from crm.models import Call, Message, VoicemailDrop
from engine.effects.channels import ChannelError, locmem
from engine.effects.channels.locmem import LocMemBackend
from tests.actions.conftest import log_of
from tests.cast import make_contact
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db


class FlakyBackend(LocMemBackend):
    """Answers like a provider in trouble: the first ``failures`` sends fail."""

    failures = 0
    transient = True
    attempts = 0

    def send_message(self, message):
        FlakyBackend.attempts += 1
        if FlakyBackend.attempts <= FlakyBackend.failures:
            raise ChannelError("provider said 503", transient=FlakyBackend.transient)
        return super().send_message(message)


def sms_step(**config):
    return {
        "id": "text",
        "type": "send_sms",
        "config": {"message": "Hi {{contact.first_name}}", **config},
    }


def test_it_sends_an_sms_to_the_contacts_phone_and_records_it(tenant, contact, run):
    enrollment = run(tenant, contact, [sms_step()])
    assert enrollment.status == Enrollment.Status.COMPLETED
    [sent] = locmem.outbox
    assert (sent.channel, sent.to, sent.body) == ("sms", "+4915100000001", "Hi Ann")
    assert sent.idempotency_key == f"enr{enrollment.pk}:text:1"
    message = Message.objects.get(contact=contact)
    assert (message.direction, message.channel, message.status) == ("outbound", "sms", "sent")
    assert message.external_id == "locmem-1"
    assert message.metadata["step_id"] == "text"
    assert message.metadata["enrollment_id"] == enrollment.pk
    output = enrollment.context["steps"]["text"]
    assert output["message_id"] == "locmem-1"
    assert output["record_id"] == message.pk
    assert output["replied"] is False


def test_it_sends_whatsapp_to_an_explicit_templated_recipient(tenant, contact, run):
    step = {
        "id": "wa",
        "type": "send_whatsapp",
        "config": {"message": "Order {{trigger.order}} shipped", "recipient": "{{trigger.from}}"},
    }
    run(tenant, contact, [step], trigger={"order": "A7", "from": "+4930111222"})
    [sent] = locmem.outbox
    assert (sent.channel, sent.to, sent.body) == ("whatsapp", "+4930111222", "Order A7 shipped")


def test_send_message_answers_on_the_channel_the_trigger_came_in_on(tenant, contact, run):
    step = {"id": "reply", "type": "send_message", "config": {"message": "Thanks!"}}
    run(tenant, contact, [step], trigger={"channel": "whatsapp"})
    assert [m.channel for m in locmem.outbox] == ["whatsapp"]


def test_send_message_on_webchat_answers_the_chat_session(tenant, contact, run):
    step = {
        "id": "reply",
        "type": "send_message",
        "config": {"message": "Hi", "channel": "webchat"},
    }
    run(tenant, contact, [step], trigger={"session_id": "chat-9"})
    [sent] = locmem.outbox
    assert (sent.channel, sent.to) == ("webchat", "chat-9")


def test_send_message_by_email_sends_an_email_with_the_workflow_name_as_subject(
    tenant, contact, run, mailoutbox
):
    step = {
        "id": "mail",
        "type": "send_message",
        "config": {"message": "Hello", "channel": "email"},
    }
    run(tenant, contact, [step], name="Greeter")
    [email] = mailoutbox
    assert (email.subject, email.to) == ("Greeter", ["ann@example.com"])
    assert email.body.startswith("Hello")


def test_send_message_by_voice_speaks_the_message_in_a_call(tenant, contact, run):
    step = {
        "id": "ring",
        "type": "send_message",
        "config": {"message": "Hello", "channel": "voice"},
    }
    run(tenant, contact, [step])
    [call] = locmem.outbox
    assert (call.to, call.voicemail_text) == ("+4915100000001", "Hello")


def test_send_message_refuses_an_unknown_channel(tenant, contact, run):
    step = {"id": "x", "type": "send_message", "config": {"message": "Hi", "channel": "fax"}}
    enrollment = run(tenant, contact, [step])
    assert enrollment.status == Enrollment.Status.FAILED
    assert "send_message.channel is 'fax'" in log_of(enrollment, "x").error_message


def test_it_skips_an_opted_out_contact_with_the_reason_in_the_log(tenant, run):
    contact = make_contact(tenant, sms_opt_out=True)
    enrollment = run(
        tenant, contact, [sms_step(), {"id": "after", "type": "add_tag", "config": {"tag": "x"}}]
    )
    assert locmem.outbox == []
    assert not Message.objects.exists()
    log = log_of(enrollment, "text")
    assert log.status == "skipped"
    assert log.parsed_output == {"skipped": True, "reason": "contact opted out of sms"}
    assert enrollment.status == Enrollment.Status.COMPLETED  # the workflow goes on


def test_it_fails_clearly_when_the_contact_has_no_phone(tenant, run):
    contact = make_contact(tenant, phone="")
    enrollment = run(tenant, contact, [sms_step()])
    assert enrollment.status == Enrollment.Status.FAILED
    assert "no phone number and no recipient" in log_of(enrollment, "text").error_message


def test_an_empty_rendered_message_is_an_error(tenant, contact, run):
    enrollment = run(tenant, contact, [sms_step(message="{{trigger.missing}}")])
    assert "rendered to an empty text" in log_of(enrollment, "text").error_message


def test_a_broken_template_names_the_field(tenant, contact, run):
    enrollment = run(tenant, contact, [sms_step(message="{% nope %}")])
    assert log_of(enrollment, "text").error_message.startswith("send_sms.message:")


def test_a_transient_provider_error_is_retried_with_the_same_key(
    tenant, contact, run, settings, frozen, inline_queue
):
    settings.STUDIO_CHANNEL_BACKENDS = {"default": f"{__name__}.FlakyBackend"}
    FlakyBackend.failures, FlakyBackend.transient, FlakyBackend.attempts = 1, True, 0
    enrollment = run(tenant, contact, [sms_step()])
    assert enrollment.status == Enrollment.Status.WAITING
    assert log_of(enrollment, "text").status == "retrying"
    frozen.shift(11)
    inline_queue.tick()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert len(locmem.outbox) == 1
    assert Message.objects.count() == 1


def test_a_permanent_provider_error_fails_the_step(tenant, contact, run, settings):
    settings.STUDIO_CHANNEL_BACKENDS = {"default": f"{__name__}.FlakyBackend"}
    FlakyBackend.failures, FlakyBackend.transient, FlakyBackend.attempts = 1, False, 0
    enrollment = run(tenant, contact, [sms_step()])
    assert enrollment.status == Enrollment.Status.FAILED
    assert "provider said 503" in log_of(enrollment, "text").error_message
    assert not Message.objects.exists()


def test_make_call_drops_the_voicemail_and_records_the_call(tenant, contact, assets, run):
    step = {
        "id": "ring",
        "type": "make_call",
        "config": {"voicemail_drop_id": "{{voicemails.intro}}"},
    }
    enrollment = run(tenant, contact, [step])
    [call] = locmem.outbox
    assert (call.to, call.voicemail_text) == ("+4915100000001", "Hi Ann, call us!")
    assert call.idempotency_key == f"enr{enrollment.pk}:ring:1"
    record = Call.objects.get(contact=contact)
    assert (record.direction, record.status, record.external_id) == (
        "outbound",
        "ringing",
        "locmem-1",
    )
    assert Message.objects.get(contact=contact).channel == "voice"
    assert enrollment.context["steps"]["ring"]["call_id"] == "locmem-1"


def test_make_call_plays_a_recording_when_the_drop_has_one(tenant, contact, run):
    VoicemailDrop.objects.create(
        tenant=tenant, slug="promo", name="P", audio_url="https://cdn.example.com/p.mp3"
    )
    step = {"id": "ring", "type": "make_call", "config": {"voicemail_drop_id": "promo"}}
    run(tenant, contact, [step])
    assert locmem.outbox[0].voicemail_url == "https://cdn.example.com/p.mp3"


def test_make_call_skips_a_contact_opted_out_of_calls(tenant, assets, run):
    contact = make_contact(tenant, voice_opt_out=True)
    step = {"id": "ring", "type": "make_call", "config": {"voicemail_drop_id": "intro"}}
    enrollment = run(tenant, contact, [step])
    assert locmem.outbox == []
    assert log_of(enrollment, "ring").parsed_output["reason"] == "contact opted out of voice"


@pytest.mark.parametrize(
    ("drop", "error"),
    [
        (None, "no voicemail drop 'intro' in this tenant"),
        ({"transcript": "", "audio_url": ""}, "has no audio_url and no text"),
    ],
)
def test_make_call_fails_clearly_without_a_usable_drop(tenant, contact, run, drop, error):
    if drop is not None:
        VoicemailDrop.objects.create(tenant=tenant, slug="intro", name="I", **drop)
    step = {
        "id": "ring",
        "type": "make_call",
        "config": {"voicemail_drop_id": "{{voicemails.intro}}"},
    }
    enrollment = run(tenant, contact, [step])
    assert error in log_of(enrollment, "ring").error_message
