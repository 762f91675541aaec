from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crm.models import Direction, Message
from engine.effects import email_tracking
from engine.triggers import tracking
from tests.cast import make_contact
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db

WELCOME = {
    "id": "welcome",
    "type": "send_email",
    "config": {"template_id": "{{templates.welcome}}"},
}
WAIT = {"id": "pause", "type": "wait", "config": {"duration": "1d"}}
ENGAGED_GOAL = {
    "id": "engaged",
    "type": "goal",
    "config": {
        "condition": {"field": "steps.welcome.clicked", "operator": "equals", "value": True},
        "on_success": "exit_engaged",
    },
}


def links(mailoutbox) -> dict[str, str]:
    """The tracking paths in the last email's HTML part, by kind."""
    [(html, _)] = mailoutbox[-1].alternatives
    found: dict[str, str] = {}
    for path in re.findall(r'"https://studio\.example\.com(/t/[ocu]/[^"]+)"', html):
        kind = {"o": "open", "c": "click", "u": "unsubscribe"}[path[3]]
        found.setdefault(kind, path)
    return found


def test_the_open_pixel_marks_the_step_opened(tenant, contact, assets, run, mailoutbox, client):
    enrollment = run(tenant, contact, [WELCOME, WAIT])
    response = client.get(links(mailoutbox)["open"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response["Cache-Control"].startswith("no-store")
    enrollment.refresh_from_db()
    assert enrollment.context["steps"]["welcome"]["opened"] is True
    assert enrollment.context["steps"]["welcome"]["clicked"] is False
    message = Message.objects.get(channel="email")
    assert message.metadata["open_count"] == 1
    assert "opened_at" in message.metadata


def test_a_click_redirects_marks_clicked_and_lets_a_goal_react(
    tenant, contact, assets, run, mailoutbox, client
):
    enrollment = run(tenant, contact, [WELCOME, WAIT, ENGAGED_GOAL])
    assert enrollment.status == Enrollment.Status.WAITING
    # A person reads first: a click within seconds of delivery is a link scanner's.
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2), tick=False):
        response = client.get(links(mailoutbox)["click"])
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/start?a=1&b=2"
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == "engaged"
    output = enrollment.context["steps"]["welcome"]
    assert output["clicked"] is True
    assert output["opened"] is True
    message = Message.objects.get(channel="email")
    assert message.metadata["clicks"][0]["url"] == "https://example.com/start?a=1&b=2"


def test_a_second_open_changes_nothing_but_the_count(tenant, contact, assets, run, mailoutbox):
    run(tenant, contact, [WELCOME, WAIT])
    token = links(mailoutbox)["open"].split("/")[-1].removesuffix(".gif")
    assert tracking.record_open(token=token) is True
    assert tracking.record_open(token=token) is False
    assert Message.objects.get(channel="email").metadata["open_count"] == 2


def test_an_open_of_an_earlier_visits_email_does_not_mark_the_later_one(
    tenant, contact, assets, run
):
    enrollment = run(tenant, contact, [WELCOME, WAIT])
    old_key = f"enr{enrollment.pk}:welcome:1"
    enrollment.context["steps"]["welcome"]["message_id"] = "<a-later-send@example.com>"
    enrollment.save(update_fields=["context"])
    assert tracking.record_open(token=email_tracking.make_token("open", {"k": old_key})) is False
    enrollment.refresh_from_db()
    assert enrollment.context["steps"]["welcome"]["opened"] is False


@pytest.mark.parametrize("kind", ["open", "click", "unsubscribe"])
def test_a_tampered_token_is_a_404(tenant, contact, assets, run, mailoutbox, client, kind):
    run(tenant, contact, [WELCOME, WAIT])
    path = links(mailoutbox)[kind]
    head, _, tail = path.rpartition(":")
    tampered = f"{head}:{'A' if tail[0] != 'A' else 'B'}{tail[1:]}"
    assert client.get(tampered).status_code == 404


def test_a_token_made_for_one_purpose_is_refused_for_another(
    tenant, contact, assets, run, mailoutbox, client
):
    run(tenant, contact, [WELCOME, WAIT])
    open_token = links(mailoutbox)["open"].split("/")[-1].removesuffix(".gif")
    assert client.get(f"/t/c/{open_token}").status_code == 404
    assert client.get(f"/t/u/{open_token}").status_code == 404


def test_a_click_token_cannot_redirect_off_the_web(client):
    token = email_tracking.make_token("click", {"k": "enr1:x:1", "u": "javascript:alert(1)"})
    assert client.get(f"/t/c/{token}").status_code == 404


def test_the_unsubscribe_link_opts_the_contact_out_of_email(
    tenant, contact, assets, run, mailoutbox, client
):
    run(tenant, contact, [WELCOME, WAIT])
    response = client.post(links(mailoutbox)["unsubscribe"])
    assert response.status_code == 200
    assert b"not receive these emails" in response.content
    contact.refresh_from_db()
    assert contact.email_opt_out is True
    later = run(tenant, contact, [{**WELCOME, "id": "again"}])
    assert later.context["steps"]["again"] == {
        "skipped": True,
        "reason": "contact opted out of email",
    }


def test_one_click_unsubscribe_works_by_post_without_csrf(tenant, contact, assets, run, mailoutbox):
    from django.test import Client

    run(tenant, contact, [WELCOME, WAIT])
    response = Client(enforce_csrf_checks=True).post(links(mailoutbox)["unsubscribe"])
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.email_opt_out is True
    token = links(mailoutbox)["unsubscribe"].split("/")[-1]
    assert tracking.record_unsubscribe(token=token) is False  # already out


def inbound(contact, *, minutes_later: int = 1, direction: str = Direction.INBOUND) -> Message:
    message = Message.objects.create(
        tenant_id=contact.tenant_id, contact=contact, channel="sms", direction=direction, body="yes"
    )
    # The reply came after the send.
    Message.objects.filter(pk=message.pk).update(
        created_at=message.created_at + timedelta(minutes=minutes_later)
    )
    message.refresh_from_db()
    return message


def test_an_inbound_reply_marks_the_latest_send_replied(tenant, contact, run):
    steps = [
        {"id": "first", "type": "send_sms", "config": {"message": "One"}},
        {"id": "second", "type": "send_sms", "config": {"message": "Two"}},
        {**WAIT, "next": "end"},
        {
            "id": "got_reply",
            "type": "goal",
            "config": {
                "condition": {"field": "steps.second.replied", "operator": "equals", "value": True},
                "on_success": "exit_replied",
            },
        },
    ]
    enrollment = run(tenant, contact, steps)
    assert tracking.record_reply(inbound(contact)) == 1
    enrollment.refresh_from_db()
    assert enrollment.context["steps"]["second"]["replied"] is True
    assert enrollment.context["steps"]["first"]["replied"] is False
    assert enrollment.exit_reason == "replied"


def test_outbound_messages_and_replies_before_any_send_change_nothing(tenant, contact, run):
    enrollment = run(tenant, contact, [WAIT])
    assert tracking.record_reply(inbound(contact)) == 0
    other = make_contact(tenant)
    run(tenant, other, [{"id": "s", "type": "send_sms", "config": {"message": "Hi"}}, WAIT])
    assert tracking.record_reply(inbound(other, direction=Direction.OUTBOUND)) == 0
    assert tracking.record_reply(inbound(other, minutes_later=-10)) == 0
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.WAITING
