"""Backends chosen in settings; the console and in-memory backends for development and tests."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from engine.effects.channels import (
    ChannelBackend,
    OutboundCall,
    OutboundMessage,
    backend_path,
    get_backend,
    locmem,
)
from engine.effects.channels.console import ConsoleBackend
from engine.effects.channels.locmem import LocMemBackend
from engine.effects.channels.twilio import TwilioBackend


@pytest.fixture(autouse=True)
def _empty_outbox():
    locmem.reset()
    yield
    locmem.reset()


def test_every_channel_defaults_to_the_console_backend(settings) -> None:
    del settings.STUDIO_CHANNEL_BACKENDS
    assert all(
        isinstance(get_backend(c), ConsoleBackend) for c in ("sms", "whatsapp", "voice", "webchat")
    )


def test_a_channel_uses_its_own_backend_or_the_default(settings) -> None:
    settings.STUDIO_CHANNEL_BACKENDS = {
        "default": "engine.effects.channels.locmem.LocMemBackend",
        "voice": "engine.effects.channels.console.ConsoleBackend",
    }
    assert isinstance(get_backend("sms"), LocMemBackend)
    assert isinstance(get_backend("voice"), ConsoleBackend)
    assert backend_path("webchat") == "engine.effects.channels.locmem.LocMemBackend"


def test_the_twilio_backend_is_built_from_settings(settings) -> None:
    settings.STUDIO_CHANNEL_BACKENDS = {"sms": "engine.effects.channels.twilio.TwilioBackend"}
    settings.STUDIO_TWILIO = {"account_sid": "AC1", "auth_token": "t0ken"}
    backend = get_backend("sms")
    assert isinstance(backend, TwilioBackend)
    assert backend.base_url == "https://api.twilio.com"
    assert "t0ken" not in repr(backend)


def test_an_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown channel 'fax': expected one of sms, whatsapp"):
        get_backend("fax")


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("engine.effects.channels.nope.Backend", "cannot be imported"),
        ("engine.effects.channels.base.OutboundMessage", "is not a ChannelBackend subclass"),
    ],
)
def test_a_misconfigured_backend_path_names_the_setting(settings, path: str, why: str) -> None:
    settings.STUDIO_CHANNEL_BACKENDS = {"sms": path}
    with pytest.raises(ImproperlyConfigured) as caught:
        get_backend("sms")
    assert str(caught.value).startswith(f"STUDIO_CHANNEL_BACKENDS['sms'] = {path!r} ")
    assert why in str(caught.value)


def test_the_base_backend_sends_nothing() -> None:
    with pytest.raises(NotImplementedError):
        ChannelBackend().send_message(OutboundMessage(channel="sms", to="+1", body="x"))
    with pytest.raises(NotImplementedError):
        ChannelBackend().place_call(OutboundCall(to="+1"))


def test_the_console_backend_prints_one_line_per_message_and_call() -> None:
    stream = io.StringIO()
    backend = ConsoleBackend(stream=stream)
    sms = backend.send_message(
        OutboundMessage(channel="sms", to="+4915112345678", body="Hi Ada", from_="+15550001111",
                        idempotency_key="run-1:step-1", media_url="https://cdn.example/a.png")
    )  # fmt: skip
    backend.send_message(OutboundMessage(channel="whatsapp", to="+4915100000000", body="Hallo"))
    call = backend.place_call(OutboundCall(to="+4915112345678", voicemail_text="Call us back"))
    backend.place_call(
        OutboundCall(
            to="+1", from_="+2", voicemail_url="https://cdn.example/vm.mp3", idempotency_key="k"
        )
    )
    assert stream.getvalue().splitlines() == [
        "[sms] +15550001111 -> +4915112345678: Hi Ada [media https://cdn.example/a.png] [key run-1:step-1]",
        "[whatsapp] (default sender) -> +4915100000000: Hallo",
        "[voice] call (default caller id) -> +4915112345678: say 'Call us back'",
        "[voice] call +2 -> +1: play https://cdn.example/vm.mp3 [key k]",
    ]
    assert sms.provider_id.startswith("console-")
    assert (sms.status, sms.provider, call.status) == ("sent", "console", "queued")
    assert sms.provider_id != call.provider_id


def test_the_console_backend_writes_to_stdout_by_default(capsys) -> None:
    ConsoleBackend().send_message(OutboundMessage(channel="webchat", to="visitor-7", body="Hello"))
    assert capsys.readouterr().out == "[webchat] (default sender) -> visitor-7: Hello\n"


def test_the_locmem_backend_keeps_messages_and_calls_in_the_outbox() -> None:
    backend = LocMemBackend()
    first = backend.send_message(OutboundMessage(channel="sms", to="+1", body="one"))
    second = backend.place_call(OutboundCall(to="+1", voicemail_text="hi"))
    assert [type(item).__name__ for item in locmem.outbox] == ["OutboundMessage", "OutboundCall"]
    assert (first.provider_id, first.status) == ("locmem-1", "sent")
    assert (second.provider_id, second.status, second.provider) == ("locmem-2", "queued", "locmem")


def test_the_locmem_backend_sends_an_idempotency_key_once() -> None:
    backend = LocMemBackend()
    message = OutboundMessage(channel="sms", to="+1", body="once", idempotency_key="run-1:step-3")
    results = [backend.send_message(message) for _ in range(3)]
    assert len(locmem.outbox) == 1
    assert {r.provider_id for r in results} == {"locmem-1"}
    assert locmem.sent_keys == {"run-1:step-3": results[0]}
    backend.send_message(OutboundMessage(channel="sms", to="+1", body="no key"))
    backend.send_message(OutboundMessage(channel="sms", to="+1", body="no key"))
    assert len(locmem.outbox) == 3


def test_the_locmem_backend_appends_once_when_threads_race_on_one_key() -> None:
    backend = LocMemBackend()
    call = OutboundCall(to="+1", voicemail_text="hi", idempotency_key="race")
    threads = [threading.Thread(target=backend.place_call, args=(call,)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(locmem.outbox) == 1


def test_reset_empties_the_outbox_and_forgets_keys() -> None:
    LocMemBackend().send_message(
        OutboundMessage(channel="sms", to="+1", body="x", idempotency_key="k")
    )
    locmem.reset()
    assert (locmem.outbox, locmem.sent_keys) == ([], {})
    again = LocMemBackend().send_message(
        OutboundMessage(channel="sms", to="+1", body="x", idempotency_key="k")
    )
    assert again.provider_id == "locmem-1"
