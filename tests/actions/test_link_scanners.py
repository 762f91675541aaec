"""Link scanners and prefetchers: recorded and flagged, never an open, a click, an automation
or an unsubscribe. Unsubscribing takes a POST (the confirmation form or RFC 8058 one-click)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from crm.models import Message
from engine.effects import email_tracking
from engine.triggers import tracking
from engine.triggers.scanners import Hit, scanner_reason
from tests.actions.test_tracking import ENGAGED_GOAL, WAIT, WELCOME, links
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SAFE_LINKS = "Mozilla/5.0 (compatible; Microsoft SafeLinks scanner)"
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"


@pytest.fixture
def sent(tenant, contact, assets, run, mailoutbox):
    """A waiting enrollment whose goal is met by a click, and its email's tracking links."""
    with time_machine.travel(SENT, tick=False):
        enrollment = run(tenant, contact, [WELCOME, WAIT, ENGAGED_GOAL])
    return enrollment, links(mailoutbox)


def at(seconds: float):
    return time_machine.travel(SENT + timedelta(seconds=seconds), tick=False)


def message_metadata() -> dict:
    return Message.objects.get(channel="email").metadata


def test_a_gateway_fetching_every_link_on_delivery_changes_nothing(sent, contact, client):
    enrollment, paths = sent
    with at(2):  # every link of the message (the pixel is an image, not a link)
        assert client.get(paths["click"]).status_code == 302
        assert client.get(paths["unsubscribe"]).status_code == 200

    contact.refresh_from_db()
    enrollment.refresh_from_db()
    assert contact.email_opt_out is False
    assert enrollment.status == Enrollment.Status.WAITING
    output = enrollment.context["steps"]["welcome"]
    assert (output["opened"], output["clicked"]) == (False, False)
    metadata = message_metadata()
    assert "open_count" not in metadata
    assert "clicks" not in metadata
    reasons = [hit["reason"] for hit in metadata["scanner_hits"]]
    assert reasons == ["clicked 2 s after delivery"]


def test_a_person_clicking_later_counts_and_fires_the_goal(sent, client):
    enrollment, paths = sent
    with at(120):
        response = client.get(paths["click"], HTTP_USER_AGENT=BROWSER)
    assert response["Location"] == "https://example.com/start?a=1&b=2"
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "engaged")
    assert message_metadata()["clicks"][0]["url"] == "https://example.com/start?a=1&b=2"


@pytest.mark.parametrize("kind", ["open", "click"])
def test_a_scanner_user_agent_is_flagged_whenever_it_comes(sent, client, kind):
    enrollment, paths = sent
    with at(3600):
        response = client.get(paths[kind], HTTP_USER_AGENT=SAFE_LINKS)
    assert response.status_code in (200, 302)
    enrollment.refresh_from_db()
    assert enrollment.context["steps"]["welcome"]["opened"] is False
    [hit] = message_metadata()["scanner_hits"]
    assert hit["reason"] == "scanner user agent (safelinks)"
    assert hit["user_agent"] == SAFE_LINKS


@pytest.mark.parametrize("kind", ["open", "click"])
def test_a_head_request_is_flagged(sent, client, kind):
    enrollment, paths = sent
    with at(3600):
        response = client.head(paths[kind], HTTP_USER_AGENT=BROWSER)
    assert response.status_code in (200, 302)
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.WAITING
    assert message_metadata()["scanner_hits"][0]["reason"] == "HEAD request"


def test_all_links_clicked_at_once_are_flagged_after_the_first(sent):
    enrollment, _ = sent
    key = f"enr{enrollment.pk}:welcome:1"
    first = email_tracking.make_token("click", {"k": key, "u": "https://example.com/a"})
    second = email_tracking.make_token("click", {"k": key, "u": "https://example.com/b"})
    with at(600):
        tracking.record_click(token=first, hit=Hit(user_agent=BROWSER))
    with at(601):
        tracking.record_click(token=second, hit=Hit(user_agent=BROWSER))
    metadata = message_metadata()
    assert [c["url"] for c in metadata["clicks"]] == ["https://example.com/a"]
    assert metadata["scanner_hits"][0]["reason"] == "several links clicked at once"


def test_the_same_link_clicked_twice_is_not_a_burst():
    now = SENT + timedelta(minutes=5)
    recent = [{"url": "https://example.com/a", "at": (now - timedelta(seconds=1)).isoformat()}]
    hit = Hit(user_agent=BROWSER)
    assert (
        scanner_reason(
            hit, now=now, delivered_at=SENT, target="https://example.com/a", recent_clicks=recent
        )
        == ""
    )


def test_an_open_right_after_delivery_still_counts():
    # Mail clients open on arrival; only clicks are judged by how soon they come.
    assert scanner_reason(Hit(user_agent=BROWSER), now=SENT, delivered_at=SENT) == ""


def test_get_of_the_unsubscribe_link_only_asks_for_confirmation(sent, contact, client):
    _, paths = sent
    page = client.get(paths["unsubscribe"])
    head = client.head(paths["unsubscribe"])
    assert (page.status_code, head.status_code) == (200, 200)
    assert b'<form method="post"' in page.content
    contact.refresh_from_db()
    assert contact.email_opt_out is False


def test_rfc8058_one_click_post_from_the_mail_client_unsubscribes(sent, contact, mailoutbox):
    email = mailoutbox[-1]
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = email.extra_headers["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("https://studio.example.com")
    response = Client(enforce_csrf_checks=True).post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.email_opt_out is True
