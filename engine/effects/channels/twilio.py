"""Twilio's REST API (or anything speaking it) for SMS, WhatsApp and voicemail-drop calls.

The base URL comes from operator settings, not from users, so it is not SSRF-checked. The auth
token is used only for Basic auth and is scrubbed from every error message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from engine.effects.channels.base import (
    ChannelBackend,
    ChannelError,
    OutboundCall,
    OutboundMessage,
    SendResult,
)

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
DEFAULT_BASE_URL = "https://api.twilio.com"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
_FROM_KEYS = {"sms": "from_sms", "whatsapp": "from_whatsapp", "voice": "from_voice"}


def _whatsapp(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def voicemail_twiml(call: OutboundCall) -> str:
    """TwiML that plays the recording at `voicemail_url`, or else speaks `voicemail_text`."""
    if call.voicemail_url:
        return f"<Response><Play>{escape(call.voicemail_url)}</Play></Response>"
    if call.voicemail_text:
        return f"<Response><Say>{escape(call.voicemail_text)}</Say></Response>"
    raise ChannelError(f"call to {call.to} has neither a voicemail_url nor a voicemail_text")


class TwilioBackend(ChannelBackend):
    """Sends through `STUDIO_TWILIO` (base_url, account_sid, auth_token, from_sms, …)."""

    name = "twilio"

    def __init__(
        self, config: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> None:
        config = dict(config if config is not None else getattr(settings, "STUDIO_TWILIO", {}))
        missing = [key for key in ("account_sid", "auth_token") if not config.get(key)]
        if missing:
            raise ImproperlyConfigured(f"STUDIO_TWILIO is missing {', '.join(missing)}")
        self.config = config
        self.base_url = str(config.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.account_sid = str(config["account_sid"])
        self._auth_token = str(config["auth_token"])
        self.timeout = timeout if timeout is not None else float(config.get("timeout", 10.0))

    def __repr__(self) -> str:
        return f"<TwilioBackend {self.base_url} account={self.account_sid}>"

    def _sender(self, channel: str, explicit: str) -> str:
        sender = explicit or str(self.config.get(_FROM_KEYS[channel], ""))
        if not sender:
            raise ChannelError(
                f"no sender for {channel}: set STUDIO_TWILIO[{_FROM_KEYS[channel]!r}] or from_"
            )
        return sender

    def _scrub(self, text: str) -> str:
        return text.replace(self._auth_token, "[redacted]")

    def _post(self, resource: str, form: dict[str, str], key: str, what: str) -> SendResult:
        url = f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/{resource}.json"
        headers = {IDEMPOTENCY_HEADER: key} if key else {}
        try:
            with httpx.Client(trust_env=False, timeout=self.timeout) as client:
                response = client.post(
                    url, data=form, headers=headers, auth=(self.account_sid, self._auth_token)
                )
        except httpx.TimeoutException:
            raise ChannelError(f"twilio {what}: timed out", transient=True) from None
        except httpx.HTTPError as exc:
            detail = self._scrub(f"{type(exc).__name__}: {exc}")
            raise ChannelError(f"twilio {what}: {detail}", transient=True) from None
        payload = self._json(response)
        status = response.status_code
        if status >= 400:
            reason = payload.get("message") or response.reason_phrase
            code = f" (code {payload['code']})" if payload.get("code") else ""
            transient = status == 429 or status >= 500
            retry = ", will retry" if transient else ""
            text = self._scrub(f"twilio {what}: HTTP {status}: {reason}{code}{retry}")
            raise ChannelError(text, transient=transient)
        if not payload.get("sid"):
            raise ChannelError(f"twilio {what}: HTTP {status} without a sid", transient=True)
        logger.info("twilio %s: %s %s", what, payload["sid"], payload.get("status", ""))
        return SendResult(
            provider_id=str(payload["sid"]),
            status=str(payload.get("status") or "queued"),
            provider=self.name,
            raw=payload,
        )

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            return {}
        return payload if isinstance(payload, dict) else {}

    def send_message(self, message: OutboundMessage) -> SendResult:
        """POST Messages.json; WhatsApp numbers get the "whatsapp:" prefix Twilio expects."""
        if message.channel not in ("sms", "whatsapp"):
            raise ChannelError(f"twilio cannot send {message.channel!r} messages")
        sender = self._sender(message.channel, message.from_)
        to = message.to
        if message.channel == "whatsapp":
            sender, to = _whatsapp(sender), _whatsapp(to)
        form = {"To": to, "From": sender, "Body": message.body}
        if message.media_url:
            form["MediaUrl"] = message.media_url
        what = f"{message.channel} to {message.to}"
        return self._post("Messages", form, message.idempotency_key, what)

    def place_call(self, call: OutboundCall) -> SendResult:
        """POST Calls.json with inline TwiML that plays or says the voicemail."""
        form = {"To": call.to, "From": self._sender("voice", call.from_)}
        form["Twiml"] = voicemail_twiml(call)
        return self._post("Calls", form, call.idempotency_key, f"call to {call.to}")
