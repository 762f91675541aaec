"""``send_sms``, ``send_whatsapp``, ``send_message`` (by channel) and ``make_call``.

The recipient defaults to the contact's number (or address); an opted-out contact is skipped
with the reason in the log; the send itself goes through ``ctx.services.outbound`` once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from crm.models import VoicemailDrop

from .base import StepContext, StepFailed, StepHandler, StepResult, register
from .email import deliver_email
from .sending import asset_slug, opted_out, recipient, render_text, skipped

CHANNELS = ("sms", "whatsapp", "email", "webchat", "voice")


def _call(ctx: StepContext, step: Any, *, to: str, url: str, text: str, slug: str) -> StepResult:
    step_input = {"channel": "voice", "to": to, "voicemail": slug, "voicemail_text": text}
    if opted_out(ctx, "voice"):
        return skipped("voice", step_input)
    result = ctx.services.outbound.place_call(
        ctx=ctx, step_id=step["id"], to=to, voicemail_url=url, voicemail_text=text, voicemail=slug
    )
    output = {**result, "channel": "voice", "to": to, "replied": False}
    return StepResult(output=output, input=step_input)


def send_text(ctx: StepContext, step: Any, *, channel: str, kind: str) -> StepResult:
    """Render the message and send it on ``channel`` (email and voice have their own paths)."""
    config = step.get("config") or {}
    body = render_text(ctx, config.get("message"), where=f"{kind}.message").strip()
    if not body:
        raise StepFailed(f"{kind}.message rendered to an empty text")
    to = recipient(ctx, channel, config.get("recipient"), where=kind)
    if channel == "email":
        subject = render_text(ctx, config.get("subject") or ctx.data["workflow"].get("name"),
                              where=f"{kind}.subject")  # fmt: skip
        return deliver_email(ctx, step, to=to, subject=subject.strip(), text=body, html="")
    if channel == "voice":
        return _call(ctx, step, to=to, url="", text=body, slug="")
    step_input = {"channel": channel, "to": to, "message": body}
    if opted_out(ctx, channel):
        return skipped(channel, step_input)
    result = ctx.services.outbound.send_message(
        ctx=ctx, step_id=step["id"], channel=channel, to=to, body=body
    )
    output = {**result, "channel": channel, "to": to, "replied": False}
    return StepResult(output=output, input=step_input)


class _FixedChannel(StepHandler):
    channel: ClassVar[str] = ""

    def handle(self, ctx: StepContext, step) -> StepResult:
        return send_text(ctx, step, channel=self.channel, kind=self.kind)


@register
class SendSmsHandler(_FixedChannel):
    kind = "send_sms"
    channel = "sms"


@register
class SendWhatsappHandler(_FixedChannel):
    kind = "send_whatsapp"
    channel = "whatsapp"


@register
class SendMessageHandler(StepHandler):
    kind = "send_message"

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = step.get("config") or {}
        trigger = ctx.data.get("trigger") or {}
        # Without a channel, answer on the channel the triggering message came in on.
        channel = str(ctx.render(config.get("channel")) or trigger.get("channel") or "sms")
        if channel not in CHANNELS:
            raise StepFailed(
                f"send_message.channel is '{channel}'; expected one of {', '.join(CHANNELS)}"
            )
        return send_text(ctx, step, channel=channel, kind=self.kind)


@register
class MakeCallHandler(StepHandler):
    kind = "make_call"

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = step.get("config") or {}
        slug = asset_slug(ctx, config.get("voicemail_drop_id"), where="make_call.voicemail_drop_id")
        drop = VoicemailDrop.objects.filter(tenant_id=ctx.tenant_id, slug=slug).first()
        if drop is None:
            raise StepFailed(f"make_call: no voicemail drop '{slug}' in this tenant")
        text = render_text(ctx, drop.transcript, where=f"voicemail '{slug}'").strip()
        if not drop.audio_url and not text:
            raise StepFailed(f"make_call: voicemail drop '{slug}' has no audio_url and no text")
        to = recipient(ctx, "voice", config.get("recipient"), where=self.kind)
        return _call(ctx, step, to=to, url=drop.audio_url, text=text, slug=slug)
