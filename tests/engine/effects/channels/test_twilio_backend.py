"""The Twilio backend against a local server speaking Twilio's API."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from engine.effects.channels import ChannelError, OutboundCall, OutboundMessage
from engine.effects.channels.twilio import TwilioBackend, voicemail_twiml
from tests.fakes.http_server import Reply
from tests.fakes.twilio_server import FakeTwilio

TOKEN = "tok-secret-123"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid="AC123", auth_token=TOKEN) as server:
        yield server


@pytest.fixture
def backend(twilio: FakeTwilio) -> TwilioBackend:
    return TwilioBackend(twilio.config)


def test_it_sends_an_sms_as_a_form_with_basic_auth(
    twilio: FakeTwilio, backend: TwilioBackend
) -> None:
    result = backend.send_message(
        OutboundMessage(
            channel="sms", to="+4915112345678", body="Hi Ada & co", idempotency_key="e1:s2:v1"
        )
    )
    request = twilio.requests[0]
    assert (request.method, request.path) == ("POST", "/2010-04-01/Accounts/AC123/Messages.json")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "To": ["+4915112345678"],
        "From": ["+15550001111"],
        "Body": ["Hi Ada & co"],
    }
    assert (
        request.headers["authorization"]
        == "Basic " + base64.b64encode(f"AC123:{TOKEN}".encode()).decode()
    )
    assert request.headers["i-twilio-idempotency-token"] == "e1:s2:v1"
    assert result.provider_id == twilio.created[0]["sid"]
    assert result.provider_id.startswith("SM")
    assert (result.status, result.provider, result.raw["to"]) == (
        "queued",
        "twilio",
        "+4915112345678",
    )


def test_it_prefixes_whatsapp_numbers_and_sends_media(
    twilio: FakeTwilio, backend: TwilioBackend
) -> None:
    backend.send_message(
        OutboundMessage(
            channel="whatsapp",
            to="+4915112345678",
            body="Hallo",
            media_url="https://cdn.example/p.jpg",
        )
    )
    backend.send_message(
        OutboundMessage(
            channel="whatsapp", to="whatsapp:+4915100000000", body="x", from_="whatsapp:+1555"
        )
    )
    first, second = (r.form() for r in twilio.requests)
    assert first == {
        "To": ["whatsapp:+4915112345678"], "From": ["whatsapp:+15550002222"],
        "Body": ["Hallo"], "MediaUrl": ["https://cdn.example/p.jpg"],
    }  # fmt: skip
    assert (second["To"], second["From"]) == (["whatsapp:+4915100000000"], ["whatsapp:+1555"])
    assert "i-twilio-idempotency-token" not in twilio.requests[0].headers


def test_it_places_a_call_that_plays_a_recording(
    twilio: FakeTwilio, backend: TwilioBackend
) -> None:
    result = backend.place_call(
        OutboundCall(
            to="+4915112345678",
            voicemail_url="https://cdn.example/vm.mp3?a=1&b=2",
            idempotency_key="k",
        )
    )
    request = twilio.requests[0]
    assert request.path == "/2010-04-01/Accounts/AC123/Calls.json"
    assert request.form() == {
        "To": ["+4915112345678"], "From": ["+15550003333"],
        "Twiml": ["<Response><Play>https://cdn.example/vm.mp3?a=1&amp;b=2</Play></Response>"],
    }  # fmt: skip
    assert request.headers["i-twilio-idempotency-token"] == "k"
    assert result.provider_id.startswith("CA")


def test_it_escapes_spoken_voicemail_text(twilio: FakeTwilio, backend: TwilioBackend) -> None:
    backend.place_call(
        OutboundCall(
            to="+1", from_="+2", voicemail_text='Hi </Say><Redirect>http://x</Redirect> & "bye"'
        )
    )
    assert twilio.requests[0].form()["Twiml"] == [
        '<Response><Say>Hi &lt;/Say&gt;&lt;Redirect&gt;http://x&lt;/Redirect&gt; &amp; "bye"</Say></Response>'
    ]
    assert twilio.requests[0].form()["From"] == ["+2"]


def test_a_call_without_a_voicemail_is_refused_before_sending(
    twilio: FakeTwilio, backend: TwilioBackend
) -> None:
    with pytest.raises(
        ChannelError, match="call to \\+1 has neither a voicemail_url nor a voicemail_text"
    ):
        backend.place_call(OutboundCall(to="+1"))
    assert twilio.requests == []
    assert (
        voicemail_twiml(OutboundCall(to="+1", voicemail_text="a<b"))
        == "<Response><Say>a&lt;b</Say></Response>"
    )


def test_a_repeated_idempotency_token_gets_the_first_answer(
    twilio: FakeTwilio, backend: TwilioBackend
) -> None:
    message = OutboundMessage(channel="sms", to="+1", body="once", idempotency_key="same")
    first, second = backend.send_message(message), backend.send_message(message)
    assert first.provider_id == second.provider_id
    assert len(twilio.created) == 1


@pytest.mark.parametrize(
    ("status", "message", "code", "transient", "text"),
    [
        (429, "Too Many Requests", 20429, True, "HTTP 429: Too Many Requests (code 20429), will retry"),
        (500, "Internal Server Error", 0, True, "HTTP 500: Internal Server Error, will retry"),
        (503, "Service Unavailable", 0, True, "HTTP 503: Service Unavailable, will retry"),
        (400, "The 'To' number +1 is not a valid phone number.", 21211, False,
         "HTTP 400: The 'To' number +1 is not a valid phone number. (code 21211)"),
        (403, "Permission to send an SMS has not been enabled", 21408, False,
         "HTTP 403: Permission to send an SMS has not been enabled (code 21408)"),
    ],
)  # fmt: skip
def test_provider_errors_map_to_transient_or_permanent(
    twilio: FakeTwilio, backend: TwilioBackend, status: int, message: str, code: int,
    transient: bool, text: str,
) -> None:  # fmt: skip
    twilio.fail_next(status, message, code)
    with pytest.raises(ChannelError) as caught:
        backend.send_message(OutboundMessage(channel="sms", to="+1", body="x"))
    assert str(caught.value) == f"twilio sms to +1: {text}"
    assert caught.value.transient is transient


def test_an_error_without_a_json_body_uses_the_reason_phrase(
    twilio: FakeTwilio, backend: TwilioBackend
) -> None:
    twilio.enqueue(Reply(status=502, body=b"<html>bad gateway</html>"))
    with pytest.raises(
        ChannelError, match=r"^twilio call to \+1: HTTP 502: Bad Gateway, will retry$"
    ):
        backend.place_call(OutboundCall(to="+1", voicemail_text="hi"))


def test_a_success_without_a_sid_is_a_transient_error(
    twilio: FakeTwilio, backend: TwilioBackend
) -> None:
    twilio.enqueue(Reply(status=201, json=["not", "an", "object"]))
    with pytest.raises(ChannelError, match="HTTP 201 without a sid") as caught:
        backend.send_message(OutboundMessage(channel="sms", to="+1", body="x"))
    assert caught.value.transient is True


def test_wrong_credentials_are_a_permanent_error_without_the_token(
    twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = TwilioBackend({**twilio.config, "auth_token": "wrong-secret-999"})
    with pytest.raises(ChannelError) as caught:
        wrong.send_message(OutboundMessage(channel="sms", to="+1", body="x"))
    assert str(caught.value) == "twilio sms to +1: HTTP 401: Authenticate (code 20003)"
    assert caught.value.transient is False
    assert "wrong-secret-999" not in caplog.text


def test_the_token_never_reaches_logs_or_errors_even_when_echoed(
    twilio: FakeTwilio, backend: TwilioBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend.send_message(OutboundMessage(channel="sms", to="+1", body="ok"))
    twilio.fail_next(400, f"bad credentials {TOKEN}", 20003)
    with pytest.raises(ChannelError) as caught:
        backend.send_message(OutboundMessage(channel="sms", to="+1", body="x"))
    assert TOKEN not in str(caught.value)
    assert "[redacted]" in str(caught.value)
    assert "twilio sms to +1: SM" in caplog.text
    assert TOKEN not in caplog.text
    assert base64.b64encode(f"AC123:{TOKEN}".encode()).decode() not in caplog.text


def test_a_slow_provider_is_a_transient_timeout(twilio: FakeTwilio) -> None:
    twilio.enqueue(Reply(delay=0.5, json={"sid": "SMlate"}))
    with pytest.raises(ChannelError, match=r"^twilio sms to \+1: timed out$") as caught:
        TwilioBackend(twilio.config, timeout=0.1).send_message(
            OutboundMessage(channel="sms", to="+1", body="x")
        )
    assert caught.value.transient is True


def test_an_unreachable_provider_is_a_transient_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = TwilioBackend({"base_url": f"http://127.0.0.1:{port}", "account_sid": "AC1",
                             "auth_token": TOKEN, "from_sms": "+1"})  # fmt: skip
    with pytest.raises(ChannelError) as caught:
        backend.send_message(OutboundMessage(channel="sms", to="+2", body="x"))
    assert str(caught.value).startswith("twilio sms to +2: ConnectError")
    assert caught.value.transient is True
    assert TOKEN not in str(caught.value)


def test_webchat_and_missing_senders_are_refused(twilio: FakeTwilio) -> None:
    backend = TwilioBackend(
        {"base_url": twilio.base_url, "account_sid": "AC123", "auth_token": TOKEN}
    )
    with pytest.raises(ChannelError, match="twilio cannot send 'webchat' messages"):
        backend.send_message(OutboundMessage(channel="webchat", to="v1", body="x"))
    with pytest.raises(
        ChannelError, match=r"no sender for sms: set STUDIO_TWILIO\['from_sms'\] or from_"
    ):
        backend.send_message(OutboundMessage(channel="sms", to="+1", body="x"))
    assert twilio.requests == []


def test_missing_credentials_are_a_configuration_error(settings) -> None:
    settings.STUDIO_TWILIO = {"account_sid": "AC1"}
    with pytest.raises(ImproperlyConfigured, match="STUDIO_TWILIO is missing auth_token"):
        TwilioBackend()
