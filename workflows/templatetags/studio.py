"""Template filters of the studio's admin pages."""

from __future__ import annotations

from django import template

from crm.admin_style import human_duration

register = template.Library()


@register.filter(name="duration_ms")
def duration_ms(value: int | None) -> str:
    """``{{ log.duration_ms|duration_ms }}`` → "5 min" (see ``human_duration``)."""
    return human_duration(value)
