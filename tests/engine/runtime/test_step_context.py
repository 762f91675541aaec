"""What a step renders over: its context is checked once, and only when a text reads it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.handlers.base import StepFailed
from engine.handlers.sending import render_text
from engine.language import templating
from engine.runtime.context import step_context
from engine.runtime.flow import Flow


class NotPlain:
    """What a template must never reach (an object with attributes and methods)."""


def context_of(data: dict):
    flow = Flow.from_definition(
        {"name": "T", "steps": [{"id": "a", "type": "add_tag", "config": {}}]}
    )
    return step_context(
        data=data, flow=flow, step_id="a", now=datetime(2026, 1, 1, tzinfo=UTC),
        tenant_id=1, enrollment_id=None, contact_id=1, visit=1, services=None,
    )  # fmt: skip


@pytest.fixture
def checks(monkeypatch) -> list[int]:
    """How many times the whole context was walked."""
    walked: list[int] = []
    real = templating.check_context

    def counting(context):
        walked.append(1)
        return real(context)

    monkeypatch.setattr("engine.runtime.context.check_context", counting)
    return walked


def test_text_that_reads_nothing_never_walks_the_context(checks):
    ctx = context_of({"contact": {"first_name": "Ada"}, "bad": NotPlain()})
    assert render_text(ctx, "vip", where="add_tag.tag") == "vip"
    assert render_text(ctx, "{# note #}vip", where="add_tag.tag") == "vip"
    assert ctx.render({"tag": "vip", "list": ["a", ("b",)]}) == {"tag": "vip", "list": ["a", ["b"]]}
    assert checks == []


def test_the_context_is_walked_once_per_step_for_every_text_that_reads_it(checks):
    ctx = context_of({"contact": {"first_name": "Ada", "tags": ["x"]}})
    assert render_text(ctx, "Hi {{contact.first_name}}", where="send_sms.message") == "Hi Ada"
    assert ctx.render("{{contact.tags}}") == ["x"]
    assert ctx.render({"a": "{% if contact.first_name %}yes{% endif %}"}) == {"a": "yes"}
    assert checks == [1]


def test_a_text_that_reads_a_context_holding_an_object_is_refused_and_names_where(checks):
    ctx = context_of({"contact": {"first_name": "Ada"}, "bad": {"deep": NotPlain()}})
    with pytest.raises(StepFailed, match=r"send_sms.message: .*'bad.deep' is a NotPlain"):
        render_text(ctx, "Hi {{contact.first_name}}", where="send_sms.message")
    with pytest.raises(templating.TemplateError, match=r"'bad.deep' is a NotPlain"):
        ctx.render("{{contact.first_name}}")


def test_plain_text_still_obeys_the_length_limit():
    ctx = context_of({})
    with pytest.raises(StepFailed, match="too long"):
        render_text(ctx, "x" * (templating.MAX_SOURCE_CHARS + 1), where="send_sms.message")
