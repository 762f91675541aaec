"""Templates bound their work, not only their output (issue 14, item 1).

Each attack input is refused with our TemplateError naming the budget, quickly and without
building the big strings; validation reports it on the step field; a dry run fails that step.
"""

from __future__ import annotations

import pytest

from engine.definition import check_document
from engine.dryrun.run import dry_run
from engine.language import templating
from engine.language.templating import TemplateError, render

LOOP_BOMB = '{% for c in "' + "x" * 5000 + '" %}' + "y" * 90_000 + "{% endfor %}"
DOUBLING = "{% with a=a|add:a %}" * 26 + "{{ a|length }}" + "{% endwith %}" * 26
SHALLOW_DOUBLING = "{% with a=a|add:a %}" * 19 + "{{ a|length }}" + "{% endwith %}" * 19
CONTACT_DOUBLING = "{% with a=contact.first_name %}" + SHALLOW_DOUBLING + "{% endwith %}"
NESTED_IFS = "{% if x %}" * 500 + "deep" + "{% endif %}" * 500
NOT_CHAIN = "{% if " + "not " * 500 + "x %}yes{% endif %}"
CONTEXT = {"a": "abcdefghij" * 10, "x": True, "items": list(range(100)), "big": "z" * 200_000}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (LOOP_BOMB, f"rendering produced more than {templating.MAX_WORK_CHARS} characters"),
        (DOUBLING, f"blocks nested more than {templating.MAX_NESTING} deep"),
        (SHALLOW_DOUBLING, "filter 'add' would build more than"),
        (NESTED_IFS, f"blocks nested more than {templating.MAX_NESTING} deep"),
        (NOT_CHAIN, f"{{% if %}} with 501 terms (limit {templating.MAX_IF_TERMS})"),
        ("{{ a" + "|upper" * 11 + " }}", "11 filters chained"),
        ("{{ items|join:big }}", "filter 'join' would build more than"),
        ("{% for i in items %}{% firstof big %}{% endfor %}", "rendering produced more than"),
        ("{% for i in items %}{{ big }}{% endfor %}", "rendering produced more than"),
        (
            "{% for i in items %}{% filter upper %}{{ big }}{% endfilter %}{% endfor %}",
            "rendering produced more than",
        ),
        # {% if %} swallows errors in its condition: the breach must still end the render
        (
            "{% with a=a|add:big %}{% with a=a|add:a %}{% if a|add:a %}y{% endif %}"
            "{% endwith %}{% endwith %}",
            "filter 'add' would build more than",
        ),
        ("{{ x }}" * 6000, f"(limit {templating.MAX_TOKENS})"),
    ],
)
def test_an_over_budget_template_is_our_error_naming_the_budget(text, message):
    with pytest.raises(TemplateError, match="template budget exceeded") as caught:
        render(text, CONTEXT)

    assert message in str(caught.value)


def test_work_within_the_budget_renders_as_before():
    text = "{% for i in items %}{{ i }},{% endfor %}{% with b=a|add:a %}{{ b|length }}{% endwith %}"

    assert render(text, CONTEXT).endswith("98,99,200")


def test_ten_nested_blocks_are_fine():
    text = "{% if x %}" * 10 + "ok" + "{% endif %}" * 10

    assert render(text, CONTEXT) == "ok"


def _flow(message: str) -> str:
    return (
        "name: Budget\ntrigger: {type: manual}\nsteps:\n"
        "  - id: text\n    type: send_sms\n    config:\n      message: " + repr(message) + "\n"
    )


@pytest.mark.parametrize("text", [DOUBLING, NESTED_IFS, NOT_CHAIN])
def test_validation_reports_a_static_breach_on_the_step_field(text):
    result = check_document(_flow(text))

    assert not result.ok
    problem = result.errors[0]
    assert problem.path == "steps[0].config.message"
    assert "template budget exceeded" in problem.message


@pytest.mark.django_db
@pytest.mark.parametrize("text", [LOOP_BOMB, CONTACT_DOUBLING, NESTED_IFS])
def test_a_dry_run_fails_the_step_with_the_budget_error(text):
    definition = {
        "name": "Budget",
        "trigger": {"type": "manual"},
        "steps": [{"id": "text", "type": "send_sms", "config": {"message": text}}],
    }

    report = dry_run(
        definition=definition, contact={"first_name": "Ann", "phone": "+4915100000001"}
    )

    assert report.status == "failed"
    assert "template budget exceeded" in str(report.as_dict())
