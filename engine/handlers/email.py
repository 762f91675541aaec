"""``send_email``: a stored EmailTemplate or an inline subject/body, tracked, once per step."""

from __future__ import annotations

import html as htmllib
from typing import Any

from django.utils.html import strip_tags

from crm.models import EmailTemplate

from .base import StepContext, StepFailed, StepHandler, StepResult, register
from .sending import asset_slug, opted_out, recipient, render_text, skipped


def email_sources(ctx: StepContext, config: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text and HTML templates: the EmailTemplate's, overridden by inline ones."""
    subject, text, html = config.get("subject"), config.get("body"), config.get("html")
    if config.get("template_id"):
        slug = asset_slug(ctx, config["template_id"], where="send_email.template_id")
        template = EmailTemplate.objects.filter(tenant_id=ctx.tenant_id, slug=slug).first()
        if template is None:
            raise StepFailed(f"send_email: no email template '{slug}' in this tenant")
        subject = subject or template.subject
        text = text or template.body_text
        html = html or template.body_html
    if not subject or not (text or html):
        raise StepFailed("send_email needs template_id, or subject and body")
    return str(subject), str(text or ""), str(html or "")


def deliver_email(
    ctx: StepContext, step: Any, *, to: str, subject: str, text: str, html: str
) -> StepResult:
    """Send (or skip, for an opted-out contact) an already rendered email."""
    step_input = {"to": to, "subject": subject, "body": text, "html": html}
    if opted_out(ctx, "email"):
        return skipped("email", step_input)
    result = ctx.services.outbound.send_email(
        ctx=ctx, step_id=step["id"], to=to, subject=subject, text=text, html=html
    )
    output = {
        **result,
        "channel": "email",
        "to": to,
        "subject": subject,
        "opened": False,
        "clicked": False,
        "replied": False,
    }
    return StepResult(output=output, input=step_input)


@register
class SendEmailHandler(StepHandler):
    kind = "send_email"

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = step.get("config") or {}
        subject, text, html = email_sources(ctx, config)
        explicit = config.get("to") or config.get("recipient")
        to = recipient(ctx, "email", explicit, where="send_email")
        html = render_text(ctx, html, where="send_email.html", html=True) if html else ""
        text = (
            render_text(ctx, text, where="send_email.body")
            if text
            else htmllib.unescape(strip_tags(html))
        )
        return deliver_email(
            ctx,
            step,
            to=to,
            subject=render_text(ctx, subject, where="send_email.subject").strip(),
            text=text,
            html=html,
        )
