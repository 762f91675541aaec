"""Property: any valid definition survives export and import, in YAML and in JSON."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.definition import (
    dump_json,
    dump_yaml,
    load_definition,
    parse_definition,
    validate_definition,
)

WORDS = st.text(
    alphabet=st.characters(categories=["L", "N", "P", "Zs"], exclude_characters="{}%#"),
    max_size=20,
)
TEXT = st.one_of(WORDS, st.lists(WORDS, min_size=2, max_size=3).map("\n".join))
NAME = WORDS.filter(str.strip)
DURATIONS = st.sampled_from(["30m", "1d", "2h30m", "PT1H", "1w", "45s"])
FIELDS = st.sampled_from(["tags", "stage", "trigger.channel", "custom_fields.goal", "email"])
SCALARS = st.one_of(st.integers(-1000, 1000), WORDS, st.booleans())
RULE = st.fixed_dictionaries(
    {"field": FIELDS, "operator": st.sampled_from(["equals", "contains"]), "value": SCALARS}
)
RULES = st.one_of(
    st.lists(RULE, max_size=2),
    st.fixed_dictionaries({"any": st.lists(RULE, min_size=1, max_size=2)}),
    RULE,
)
TRIGGERS = st.one_of(
    st.just({"type": "manual"}),
    st.builds(lambda tag: {"type": "tag_added", "config": {"tag": tag}}, NAME),
    st.builds(
        lambda cron, zone: {"type": "schedule", "config": {"cron": cron, "timezone": zone}},
        st.sampled_from(["0 9 * * 1-5", "*/15 * * * *"]),
        st.sampled_from(["UTC", "Europe/Berlin"]),
    ),
    st.builds(
        lambda intent, confidence: {
            "type": "intent_detected",
            "config": {"intent": intent, "min_confidence": confidence},
        },
        NAME,
        st.floats(0, 1),
    ),
    st.builds(
        lambda match_by, create: {
            "type": "webhook",
            "config": {"match_by": match_by, "create": create},
        },
        st.sampled_from(["email", "phone"]),
        st.booleans(),
    ),
)


def config_for(kind: str, target: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    maybe = st.one_of(st.none(), target)
    strategies: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "send_email": st.one_of(
            st.builds(
                lambda s: {"template_id": s}, st.sampled_from(["welcome", "{{templates.x}}"])
            ),
            st.builds(
                lambda s, b: {"subject": s, "body": b, "to": "{{contact.email}}"}, NAME, NAME
            ),
        ),
        "send_sms": st.builds(lambda m: {"message": m}, NAME),
        "send_whatsapp": st.builds(lambda m, r: {"message": m, "recipient": r}, NAME, NAME),
        "send_message": st.builds(
            lambda m, c: {"message": m, "channel": c},
            TEXT.filter(str.strip),
            st.sampled_from(["sms", "whatsapp", "email", "webchat", "voice"]),
        ),
        "make_call": st.just({"voicemail_drop_id": "{{voicemails.intro}}"}),
        "ai_prompt": st.builds(
            lambda p, v, variables: {"prompt": p, "version": v, "variables": variables},
            NAME,
            st.one_of(st.none(), st.integers(1, 9)),
            st.dictionaries(st.sampled_from(["goal", "tone"]), SCALARS, max_size=2),
        ),
        "ask_ai": st.builds(lambda p: {"prompt": p, "channel": "voice"}, TEXT.filter(str.strip)),
        "add_tag": st.builds(lambda t: {"tag": t}, NAME),
        "remove_tag": st.builds(lambda t: {"tag": t}, NAME),
        "update_contact": st.builds(lambda v: {"fields": {"stage": v}}, SCALARS),
        "create_record": st.builds(lambda v: {"model": "crm.Task", "fields": {"title": v}}, WORDS),
        "update_record": st.builds(
            lambda r: {"model": "crm.Booking", "record_id": r, "fields": {"status": "done"}},
            st.one_of(st.integers(1, 99), NAME),
        ),
        "create_lead": st.builds(lambda n: {"name": n, "source": "web"}, NAME),
        "update_lead": st.builds(lambda i: {"lead_id": i, "updates": {"stage": "won"}}, NAME),
        "schedule_follow_up": st.builds(lambda d, m: {"delay": d, "message": m}, DURATIONS, NAME),
        "http_request": st.builds(
            lambda m, body, t: {
                "url": "https://example.com/hook",
                "method": m,
                "body": body,
                "timeout": t,
            },
            st.sampled_from(["GET", "POST", "DELETE"]),
            st.dictionaries(st.sampled_from(["a", "b"]), SCALARS, max_size=2),
            st.one_of(st.integers(1, 60), st.floats(0.5, 60)),
        ),
        "wait": st.one_of(
            st.builds(
                lambda d, b: {"duration": d, "business_hours_only": b}, DURATIONS, st.booleans()
            ),
            st.just({"until": "2030-01-01T09:00:00"}),
        ),
        "condition": st.builds(
            lambda r, t, e: {"if": r, "then": t, "else": e}, RULES, maybe, maybe
        ),
        "ab_split": st.builds(
            lambda weights, nexts: {
                "variants": [
                    {"name": name, "weight": w, "next": n}
                    for name, w, n in zip("ABC", weights, nexts, strict=False)
                ]
            },
            st.lists(st.one_of(st.integers(1, 100), st.floats(0.1, 10)), min_size=2, max_size=3),
            st.lists(maybe, min_size=3, max_size=3),
        ),
        "goal": st.builds(
            lambda r, s, t: {"condition": r, "on_success": s, "timeout": "7d", "on_timeout": t},
            RULES,
            maybe,
            maybe,
        ),
        "exit": st.builds(lambda r: {"reason": r}, st.one_of(st.none(), NAME)),
    }
    return strategies[kind].map(lambda c: {k: v for k, v in c.items() if v is not None})


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 6))
    ids = [f"s{i}" for i in range(count)]
    target = st.sampled_from([*ids, "end", "exit", "exit_done"])
    steps = []
    for step_id in ids:
        kind = draw(st.sampled_from(KINDS))
        step: dict[str, Any] = {
            "id": step_id,
            "type": kind,
            "config": draw(config_for(kind, target)),
        }
        if draw(st.booleans()):
            step["name"] = draw(NAME)
        if draw(st.booleans()):
            step["delay"] = draw(DURATIONS)
        if draw(st.booleans()):
            step["next"] = draw(target)
        step["on_error"] = draw(st.sampled_from(["fail", "continue", *ids]))
        steps.append(step)
    settings_ = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "allow_reenrollment": st.booleans(),
                "timezone": st.sampled_from(["UTC", "America/New_York"]),
                "exit_conditions": RULES,
                "max_step_visits": st.integers(1, 500),
            },
        )
    )
    return {
        "name": draw(NAME),
        "description": draw(TEXT),
        "version": draw(st.integers(1, 5)),
        "trigger": {**draw(TRIGGERS), **({"filters": draw(RULES)} if draw(st.booleans()) else {})},
        "settings": settings_,
        "steps": steps,
        "metadata": draw(st.dictionaries(st.sampled_from(["enabled", "origin"]), SCALARS)),
    }


KINDS = [
    "send_email", "send_sms", "send_whatsapp", "send_message", "make_call", "ai_prompt",
    "ask_ai", "add_tag", "remove_tag", "update_contact", "create_record", "update_record",
    "create_lead", "update_lead", "schedule_follow_up", "http_request", "wait", "condition",
    "ab_split", "goal", "exit",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definitions())
def test_export_then_import_gives_back_the_same_definition(document: dict[str, Any]) -> None:
    definition = load_definition(document)

    assert validate_definition(definition).errors == []
    assert parse_definition(dump_yaml(definition)).definition == definition
    assert parse_definition(dump_json(definition)).definition == definition
    assert parse_definition(dump_yaml(definition), format="yaml").format == "yaml"
