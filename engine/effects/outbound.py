"""Live side effects of sending steps: channel messages, calls, email and webhooks — each once.

Every method runs in the executor's transaction through ``perform_once`` with the step's
idempotency key: a redelivered task replays the stored result instead of sending again. The
key also travels to the provider (Twilio's idempotency token, the email's Message-ID, the
``Idempotency-Key`` header), so a send whose transaction rolled back is dropped on their side.
What was sent is recorded as a CRM Message in the same transaction.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from crm.models import Call, Direction, Message
from engine.effects import email_tracking
from engine.effects.channels import ChannelError, OutboundCall, OutboundMessage, get_backend
from engine.effects.contract import StepContext, StepFailed
from engine.effects.idempotency import step_once
from engine.effects.net.redact import display_url
from engine.effects.safe_http import HttpError, is_transient_status, safe_request

MAX_BODY_CHARS = 10_000
SEND_KINDS = ("message", "email", "call")
_PERMANENT_SMTP = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)


def _message_status(provider_status: str) -> str:
    return provider_status if provider_status in Message.Status.values else Message.Status.SENT


def parse_body(body: bytes, content_type: str) -> Any:
    """JSON when the body is JSON, else text, cut to MAX_BODY_CHARS characters."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type.lower() or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text[:MAX_BODY_CHARS]


@dataclass
class LiveOutbound:
    tenant_id: int
    enrollment: Any = None

    def _once(self, ctx: StepContext, step_id: str, kind: str, action: Callable[[], dict]):
        return step_once(ctx, tenant_id=self.tenant_id, step_id=step_id, kind=kind, action=action)

    def _record(self, ctx: StepContext, step_id: str, **fields: Any) -> Message:
        metadata = {
            "idempotency_key": ctx.idempotency_key(step_id),
            "enrollment_id": ctx.enrollment_id,
            "workflow_id": getattr(self.enrollment, "workflow_id", None),
            "step_id": step_id,
            "visit": ctx.visit,
        }
        return Message.objects.create(
            tenant_id=self.tenant_id,
            contact_id=ctx.contact_id,
            direction=Direction.OUTBOUND,
            metadata=metadata,
            **fields,
        )

    def send_message(
        self, *, ctx: StepContext, step_id: str, channel: str, to: str, body: str
    ) -> dict[str, Any]:
        """Send a text on ``channel`` (sms, whatsapp, webchat) through its configured backend."""
        key = ctx.idempotency_key(step_id)

        def action() -> dict[str, Any]:
            outgoing = OutboundMessage(channel=channel, to=to, body=body, idempotency_key=key)
            try:
                sent = get_backend(channel).send_message(outgoing)
            except ChannelError as exc:
                raise StepFailed(f"{channel} to {to}: {exc}", transient=exc.transient) from None
            record = self._record(
                ctx,
                step_id,
                channel=channel,
                body=body,
                to_address=to,
                status=_message_status(sent.status),
                external_id=sent.provider_id,
            )
            return {
                "message_id": sent.provider_id,
                "status": sent.status,
                "provider": sent.provider,
                "record_id": record.pk,
            }

        return self._once(ctx, step_id, "message", action)

    def place_call(
        self,
        *,
        ctx: StepContext,
        step_id: str,
        to: str,
        voicemail_url: str = "",
        voicemail_text: str = "",
        voicemail: str = "",
    ) -> dict[str, Any]:
        """Place a call that plays a recording or speaks text; recorded as a Call and a Message."""
        key = ctx.idempotency_key(step_id)

        def action() -> dict[str, Any]:
            outgoing = OutboundCall(
                to=to,
                voicemail_url=voicemail_url,
                voicemail_text=voicemail_text,
                idempotency_key=key,
            )
            try:
                placed = get_backend("voice").place_call(outgoing)
            except ChannelError as exc:
                raise StepFailed(f"call to {to}: {exc}", transient=exc.transient) from None
            call = Call.objects.create(
                tenant_id=self.tenant_id,
                contact_id=ctx.contact_id,
                direction=Direction.OUTBOUND,
                status=Call.Status.RINGING,
                to_number=to,
                external_id=placed.provider_id,
            )
            record = self._record(
                ctx,
                step_id,
                channel="voice",
                body=voicemail_text or f"[voicemail {voicemail or voicemail_url}]",
                to_address=to,
                status=_message_status(placed.status),
                external_id=placed.provider_id,
            )
            return {
                "call_id": placed.provider_id,
                "message_id": placed.provider_id,
                "status": placed.status,
                "provider": placed.provider,
                "record_id": record.pk,
                "call_record_id": call.pk,
            }

        return self._once(ctx, step_id, "call", action)

    def send_email(
        self, *, ctx: StepContext, step_id: str, to: str, subject: str, text: str, html: str = ""
    ) -> dict[str, Any]:
        """Send through Django's email framework with tracking links and an unsubscribe link."""
        key = ctx.idempotency_key(step_id)
        message_id = email_tracking.message_id_for(key)

        def action() -> dict[str, Any]:
            unsubscribe = email_tracking.unsubscribe_url(key, ctx.contact_id)
            body_html = html
            if body_html and getattr(settings, "STUDIO_EMAIL_TRACKING", True):
                body_html = email_tracking.track_html(body_html, key=key)
            body_text, body_html = email_tracking.add_unsubscribe(text, body_html, url=unsubscribe)
            sender = settings.DEFAULT_FROM_EMAIL
            email = EmailMultiAlternatives(
                subject=" ".join(subject.splitlines()),
                body=body_text,
                from_email=sender,
                to=[to],
                headers={
                    "Message-ID": message_id,
                    "List-Unsubscribe": f"<{unsubscribe}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
            )
            if body_html:
                email.attach_alternative(body_html, "text/html")
            try:
                email.send()
            except _PERMANENT_SMTP as exc:
                raise StepFailed(f"email to {to} refused: {exc}") from None
            except (smtplib.SMTPException, OSError) as exc:
                detail = f"{type(exc).__name__}: {exc}"
                raise StepFailed(f"email to {to}: {detail}", transient=True) from None
            record = self._record(
                ctx,
                step_id,
                channel="email",
                subject=subject[:255],
                body=text,
                from_address=sender,
                to_address=to,
                status=Message.Status.SENT,
                external_id=message_id,
            )
            return {"message_id": message_id, "status": "sent", "record_id": record.pk}

        return self._once(ctx, step_id, "email", action)

    def http_request(
        self,
        *,
        ctx: StepContext,
        step_id: str,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
        timeout: float,
    ) -> dict[str, Any]:
        """One SSRF-checked request; 429/5xx and timeouts are transient, other 4xx permanent."""
        key = ctx.idempotency_key(step_id)
        shown = f"{method} {display_url(url)}"

        def action() -> dict[str, Any]:
            send_headers = {**headers, "Idempotency-Key": key}
            payload = body if method != "GET" else None
            try:
                response = safe_request(
                    method, url, headers=send_headers, json=payload, timeout=timeout
                )
            except HttpError as exc:
                raise StepFailed(str(exc), transient=exc.transient) from None
            content_type = response.headers.get("content-type", "")
            result = {
                "status": response.status,
                "body": parse_body(response.body, content_type),
                "ok": 200 <= response.status < 300,
            }
            if is_transient_status(response.status):
                raise StepFailed(
                    f"{shown} answered {response.status} (transient)", transient=True, output=result
                )
            if response.status >= 400:
                raise StepFailed(f"{shown} answered {response.status}", output=result)
            return result

        return self._once(ctx, step_id, "http", action)
