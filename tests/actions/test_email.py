from __future__ import annotations

import re
import smtplib

import pytest
from django.core.mail.backends.locmem import EmailBackend

from crm.models import Message
from engine.effects.email_tracking import message_id_for
from tests.actions.conftest import log_of
from tests.cast import make_contact
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db

WELCOME = {
    "id": "welcome",
    "type": "send_email",
    "config": {"template_id": "{{templates.welcome}}"},
}


class RefusingBackend(EmailBackend):
    error: Exception = smtplib.SMTPRecipientsRefused({})

    def send_messages(self, messages):
        raise RefusingBackend.error


def html_of(email) -> str:
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    return html


def test_it_sends_a_stored_template_with_text_and_html_parts(
    tenant, contact, assets, run, mailoutbox
):
    enrollment = run(tenant, contact, [WELCOME])
    [email] = mailoutbox
    assert email.subject == "Welcome, Ann"
    assert email.to == ["ann@example.com"]
    assert email.from_email == "studio@example.com"
    assert email.body.startswith("Hi Ann, read https://example.com/start")
    assert "<p>Hi Ann</p>" in html_of(email)
    key = f"enr{enrollment.pk}:welcome:1"
    assert email.extra_headers["Message-ID"] == message_id_for(key)
    assert email.message()["Message-ID"] == message_id_for(key)
    output = enrollment.context["steps"]["welcome"]
    assert output["opened"] is False
    assert output["clicked"] is False
    assert output["replied"] is False
    message = Message.objects.get(contact=contact)
    assert (message.channel, message.subject, message.external_id) == (
        "email",
        "Welcome, Ann",
        message_id_for(key),
    )


def test_links_are_rewritten_to_signed_redirects_and_a_pixel_is_added(
    tenant, contact, assets, run, mailoutbox
):
    run(tenant, contact, [WELCOME])
    html = html_of(mailoutbox[0])
    assert "https://example.com/start" not in html
    assert re.search(r'href="https://studio\.example\.com/t/c/[^"]+"', html)
    assert re.search(r'<img src="https://studio\.example\.com/t/o/[^"]+\.gif"', html)
    assert html.index("<img") < html.index("</body>")


def test_every_email_carries_an_unsubscribe_link_and_header(
    tenant, contact, assets, run, mailoutbox
):
    run(tenant, contact, [WELCOME])
    email = mailoutbox[0]
    assert "Unsubscribe: https://studio.example.com/t/u/" in email.body
    assert email.extra_headers["List-Unsubscribe"].startswith("<https://studio.example.com/t/u/")
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ">Unsubscribe</a>" in html_of(email)


def test_tracking_can_be_switched_off(tenant, contact, assets, run, mailoutbox, settings):
    settings.STUDIO_EMAIL_TRACKING = False
    run(tenant, contact, [WELCOME])
    html = html_of(mailoutbox[0])
    assert 'href="https://example.com/start?a=1&b=2"' in html
    assert "/t/o/" not in html


def test_it_sends_an_inline_subject_and_body_to_a_templated_address(
    tenant, contact, run, mailoutbox
):
    step = {
        "id": "note",
        "type": "send_email",
        "config": {
            "subject": "Re: {{trigger.topic}}\nBcc: evil@example.com",
            "body": "About {{trigger.topic}}",
            "to": "{{trigger.reply_to}}",
        },
    }
    run(tenant, contact, [step], trigger={"topic": "prices", "reply_to": "boss@example.com"})
    [email] = mailoutbox
    assert email.to == ["boss@example.com"]
    assert email.subject == "Re: prices Bcc: evil@example.com"  # no header injection
    assert email.alternatives == []


def test_the_html_part_escapes_contact_data(tenant, run, mailoutbox):
    contact = make_contact(tenant, first_name="<script>x</script>")
    step = {
        "id": "note",
        "type": "send_email",
        "config": {"subject": "Hi", "html": "<p>Hi {{contact.first_name}}</p>"},
    }
    run(tenant, contact, [step])
    html = html_of(mailoutbox[0])
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert mailoutbox[0].body.startswith("Hi <script>x</script>")  # text made from the HTML


def test_it_skips_a_contact_opted_out_of_email(tenant, assets, run, mailoutbox):
    contact = make_contact(tenant, email_opt_out=True)
    enrollment = run(tenant, contact, [WELCOME])
    assert mailoutbox == []
    assert log_of(enrollment, "welcome").parsed_output["reason"] == "contact opted out of email"


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"template_id": "{{templates.nope}}"}, "no email template 'nope' in this tenant"),
        ({"subject": "Hi"}, "needs template_id, or subject and body"),
        ({"template_id": "{{trigger.none}}"}, "send_email.template_id is empty"),
    ],
)
def test_it_fails_clearly_on_a_bad_email_config(tenant, contact, run, config, error):
    enrollment = run(tenant, contact, [{"id": "m", "type": "send_email", "config": config}])
    assert enrollment.status == Enrollment.Status.FAILED
    assert error in log_of(enrollment, "m").error_message


def test_a_contact_without_email_fails_the_step(tenant, assets, run):
    contact = make_contact(tenant, email="")
    enrollment = run(tenant, contact, [WELCOME])
    assert "no email address" in log_of(enrollment, "welcome").error_message


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (smtplib.SMTPRecipientsRefused({}), Enrollment.Status.FAILED),
        (smtplib.SMTPServerDisconnected("gone"), Enrollment.Status.WAITING),
        (ConnectionRefusedError("no server"), Enrollment.Status.WAITING),
    ],
)
def test_refused_recipients_fail_and_connection_trouble_retries(
    tenant, contact, assets, run, settings, error, status
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    RefusingBackend.error = error
    enrollment = run(tenant, contact, [WELCOME])
    assert enrollment.status == status
    assert "email to ann@example.com" in log_of(enrollment, "welcome").error_message
    assert not Message.objects.exists()
