"""Shared pieces of the sending steps: rendering text, recipients, opt-outs, asset slugs."""

from __future__ import annotations

import re
from typing import Any

from crm.phones import PhoneNumberInvalid, tenant_e164
from engine.language.templating import NO_CONTEXT, TemplateError, reads_context, render

from .base import StepContext, StepFailed, StepResult

PHONE_CHANNELS = ("sms", "whatsapp", "voice")
OPT_OUT_CHANNELS = ("sms", "whatsapp", "email", "voice")
_ASSET = re.compile(r"\{\{\s*(templates|voicemails)\.([\w-]+)\s*\}\}")


def render_text(ctx: StepContext, value: Any, *, where: str, html: bool = False) -> str:
    """``value`` rendered as text over the step's namespaces; errors name ``where``."""
    if value is None:
        return ""
    text = str(value)
    try:
        if ctx.checked is None:
            data = ctx.data
        else:
            data = ctx.checked() if reads_context(text) else NO_CONTEXT
        return render(text, data, html=html)
    except TemplateError as exc:
        raise StepFailed(f"{where}: {exc}") from None


def asset_slug(ctx: StepContext, value: Any, *, where: str) -> str:
    """The slug an asset reference names: ``{{templates.welcome}}`` → ``welcome``."""
    match = _ASSET.fullmatch(str(value or "").strip())
    # Read the slug from the reference itself: the asset namespaces hold no values to render.
    slug = match.group(2) if match else render_text(ctx, value, where=where).strip()
    if not slug:
        raise StepFailed(f"{where} is empty")
    return slug


def opted_out(ctx: StepContext, channel: str) -> bool:
    contact = ctx.data.get("contact") or {}
    return channel in OPT_OUT_CHANNELS and bool((contact.get("opted_out") or {}).get(channel))


def skipped(channel: str, step_input: dict[str, Any]) -> StepResult:
    """The step does nothing: the contact does not want messages on this channel."""
    reason = f"contact opted out of {channel}"
    return StepResult(
        output={"skipped": True, "reason": reason}, status="skipped", input=step_input
    )


def recipient(ctx: StepContext, channel: str, explicit: Any, *, where: str) -> str:
    """The configured recipient, else the contact's address on the channel.

    Phone channels get E.164 in the tenant's default region (crm.phones); a number that
    cannot be read fails the step (StepFailed) naming it.
    """
    to = render_text(ctx, explicit, where=f"{where}.recipient").strip()
    if to and channel in PHONE_CHANNELS:
        return _e164(ctx, to, where=f"{where}.recipient")
    if to:
        return to
    contact = ctx.data.get("contact") or {}
    trigger = ctx.data.get("trigger") or {}
    if channel == "email":
        to = str(contact.get("email") or "")
    elif channel in PHONE_CHANNELS:
        to = str(contact.get("phone") or "")
    else:  # web chat answers the session the message came from
        to = str(trigger.get("session_id") or trigger.get("from") or contact.get("id") or "")
    if not to:
        what = "email address" if channel == "email" else "phone number"
        raise StepFailed(f"{where}: the contact has no {what} and no recipient is set")
    if channel in PHONE_CHANNELS:
        return _e164(ctx, to, where=f"{where}: the contact's phone")
    return to


def _e164(ctx: StepContext, number: str, *, where: str) -> str:
    try:
        return tenant_e164(number, tenant_id=ctx.tenant_id, where=where)
    except PhoneNumberInvalid as exc:
        raise StepFailed(str(exc)) from None
