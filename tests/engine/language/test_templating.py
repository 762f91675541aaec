from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine.language import templating
from engine.language.templating import (
    MAX_SOURCE_CHARS,
    TemplateError,
    has_template_syntax,
    referenced_paths,
    render,
    render_value,
)

NOW = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)


@pytest.fixture
def context():
    return {
        "contact": {
            "first_name": "Ann",
            "tags": ["vip", "lead"],
            "custom_fields": {"goal": "marathon", "score": 7},
        },
        "steps": {"welcome_email": {"opened": True}},
        "workflow": {"name": "Nurture"},
        "now": NOW,
    }


def test_it_renders_variables_and_safe_filters(context):
    text = "Hi {{ contact.first_name|upper }}, goal {{contact.custom_fields.goal|title}}"
    assert render(text, context) == "Hi ANN, goal Marathon"


def test_it_renders_missing_variables_as_empty_text(context):
    assert render("[{{ contact.nope }}|{{ nothing.at.all }}]", context) == "[|]"


def test_it_does_not_escape_plain_text(context):
    assert render("{{ x }}", {"x": "<b>&</b>"}) == "<b>&</b>"


def test_it_escapes_when_rendering_html():
    assert render("{{ x }}", {"x": "<b>&</b>"}, html=True) == "&lt;b&gt;&amp;&lt;/b&gt;"


def test_it_prints_datetimes_as_iso_8601(context):
    assert render("{{ now }}", context) == "2024-01-15T09:30:00+00:00"
    assert render("{{ d }}", {"d": date(2024, 2, 1)}) == "2024-02-01"


def test_it_runs_the_allowed_tags(context):
    text = (
        "{% for tag in contact.tags %}{{ forloop.counter }}:{{ tag }}{% cycle ',' '' %}"
        "{% empty %}none{% endfor %}"
        "{% if steps.welcome_email.opened and contact.custom_fields.score > 5 %} yes"
        "{% elif contact %} maybe{% else %} no{% endif %}"
        "{% with goal=contact.custom_fields.goal %} {{ goal }}{% endwith %}"
        " {% firstof contact.nick contact.first_name %}"
        "{% comment %}hidden{% endcomment %}{# also hidden #}"
        "{% filter lower %} LOUD{% endfilter %}"
        "{% spaceless %} <p> x </p> {% endspaceless %}"
        "{% templatetag openblock %}"
        "{% autoescape on %}{{ html }}{% endautoescape %}"
        "{% for x in contact.tags %}{% ifchanged %}c{% endifchanged %}{% endfor %}"
    )
    out = render(text, {**context, "html": "<i>"})
    assert out == "1:vip,2:lead yes marathon Ann loud<p> x </p>{%&lt;i&gt;c"


def test_for_empty_branch_runs_for_a_missing_list():
    assert render("{% for x in missing %}{{ x }}{% empty %}none{% endfor %}", {}) == "none"


def test_it_iterates_dict_items(context):
    text = "{% for k, v in contact.custom_fields.items %}{{ k }}={{ v }};{% endfor %}"
    assert render(text, context) == "goal=marathon;score=7;"


@pytest.mark.parametrize(
    "text",
    [
        "{% load static %}",
        "{% include 'x.html' %}",
        "{% extends 'base.html' %}",
        "{% debug %}",
        "{% ssi '/etc/passwd' %}",
        "{% url 'admin:index' %}",
        "{% csrf_token %}",
        "{% now 'Y' %}",
        "{% block x %}{% endblock %}",
        "{% widthratio 1 2 3 %}",
    ],
)
def test_every_forbidden_tag_is_a_template_error(text):
    with pytest.raises(TemplateError, match="is not allowed"):
        render(text, {})


@pytest.mark.parametrize("text", ["{{ x|safe }}", "{{ x|center:'999999999' }}", "{{ x|pprint }}"])
def test_filters_outside_the_whitelist_are_refused(text):
    with pytest.raises(TemplateError, match="Invalid filter"):
        render(text, {"x": "a"})


def test_a_syntax_error_names_the_problem():
    with pytest.raises(TemplateError, match=r"template syntax error: .*if"):
        render("{% if %}", {})
    with pytest.raises(TemplateError, match="Unclosed tag on line 1"):
        render("{% for x in y %}", {})


def test_underscore_attributes_are_refused_and_render_nothing(context):
    with pytest.raises(TemplateError, match="underscores"):
        render("{{ contact.__class__ }}", context)
    with pytest.raises(TemplateError, match="underscores"):
        referenced_paths("{{ contact.__class__.__mro__ }}")


def test_attribute_access_on_non_dict_values_gives_nothing(context):
    text = "[{{ contact.first_name.upper }}|{{ now.year }}|{{ contact.first_name.0 }}]"
    assert render(text, context) == "[||]"


def test_methods_are_never_called_so_templates_cannot_mutate_the_context(context):
    render("{{ contact.tags.pop }}{{ contact.clear }}{{ contact.tags.0 }}", context)
    assert context["contact"]["tags"] == ["vip", "lead"]
    assert "first_name" in context["contact"]


def test_list_items_are_reached_by_index(context):
    assert render("{{ contact.tags.1 }}|{{ contact.tags.9 }}", context) == "lead|"


def test_tags_that_assign_do_not_leak_into_the_callers_context(context):
    assert render("{% firstof contact.first_name as n %}{{ n }}", context) == "Ann"
    assert "n" not in context


class Secret:
    token = "s3cr3t"


@pytest.mark.parametrize(
    ("bad_context", "message"),
    [
        ({"obj": Secret()}, "context value at 'obj' is a Secret"),
        ({"contact": {"user": Secret()}}, "'contact.user' is a Secret"),
        ({"items": [1, Secret()]}, r"'items\[1\]' is a Secret"),
        ({"_private": 1}, "may not start with '_'"),
        ({"contact": {"_meta": 1}}, "may not start with '_'"),
        ({"contact": {1: "x"}}, "is not a string"),
    ],
)
def test_only_plain_data_may_be_rendered(bad_context, message):
    with pytest.raises(TemplateError, match=message):
        render("hi", bad_context)


def test_every_plain_type_is_accepted():
    context = {"a": [1, 2.5, True, None, Decimal("1.1"), date(2024, 1, 1), NOW, ("t",)]}
    assert render("{{ a.0 }}", context) == "1"


def test_the_context_must_be_a_mapping_and_not_too_deep():
    with pytest.raises(TemplateError, match="must be a mapping"):
        render("x", ["not", "a", "mapping"])
    deep: dict = {}
    node = deep
    for _ in range(templating.MAX_CONTEXT_DEPTH + 2):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(TemplateError, match="nested deeper"):
        render("x", deep)


def test_source_size_is_bounded():
    with pytest.raises(TemplateError, match="template is too long: 100001 characters"):
        render("x" * 100_001, {})
    with pytest.raises(TemplateError, match="must be a string"):
        render(42, {})


def test_output_size_is_bounded():
    with pytest.raises(TemplateError, match="rendered text is too long"):
        render("{{ x }}{{ x }}", {"x": "y" * 150_000})


def test_loop_iterations_are_bounded():
    text = "{% for a in l %}{% for b in l %}{% for c in l %}{% endfor %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match="loops ran more than 20000 iterations"):
        render(text, {"l": list(range(100))})


def test_a_filter_given_the_wrong_type_renders_nothing():
    assert render("[{{ x|first }}{{ x|cut:5 }}]", {"x": None}) == "[]"


def test_a_failure_while_rendering_becomes_a_template_error():
    with pytest.raises(TemplateError, match="template rendering failed: ValueError: Need 2"):
        render("{% for a, b in x %}{% endfor %}", {"x": [[1, 2, 3]]})
    with pytest.raises(TemplateError, match="template syntax error: No named cycles"):
        render("{% cycle foo %}", {})


def test_render_value_returns_raw_values_for_a_single_variable(context):
    value = {
        "opened": "{{steps.welcome_email.opened}}",
        "tags": ["{{ contact.tags }}"],
        "when": "{{ now }}",
        "score": "{{ contact.custom_fields.score }}",
        "missing": "{{ contact.nothing }}",
        "literal": "{{ True }}",
    }
    assert render_value(value, context) == {
        "opened": True,
        "tags": [["vip", "lead"]],
        "when": NOW,
        "score": 7,
        "missing": "",
        "literal": True,
    }


def test_render_value_renders_text_and_passes_other_values_through(context):
    value = ("Hi {{ contact.first_name }}", "{{ contact.first_name|lower }}", 5, None, "plain")
    assert render_value(value, context) == ["Hi Ann", "ann", 5, None, "plain"]


def test_render_value_refuses_non_plain_context():
    with pytest.raises(TemplateError, match="only plain data"):
        render_value("plain", {"x": object()})


def test_referenced_paths_walks_every_node():
    text = (
        "{{ contact.first_name }}{{ now|add_days:3 }}"
        "{% if steps.welcome_email.opened %}{{ x|default:contact.nick }}{% endif %}"
        "{% for tag in contact.tags %}{{ tag.name }}{{ forloop.counter }}{% empty %}"
        "{{ tag }}{% endfor %}"
        "{% with goal=contact.custom_fields.goal %}{{ goal }}{% endwith %}"
        "{% filter default:workflow.name %}{% endfilter %}"
        "{% cycle trigger.a 'b' as c %}{{ c }}{% firstof enrollment.x 'y' %}"
        "{% ifchanged steps.s.out %}{% endifchanged %}{{ True }}{{ 'literal' }}"
    )
    assert referenced_paths(text) == [
        "contact.custom_fields.goal",
        "contact.first_name",
        "contact.nick",
        "contact.tags",
        "enrollment.x",
        "now",
        "steps.s.out",
        "steps.welcome_email.opened",
        "tag",
        "trigger.a",
        "workflow.name",
        "x",
    ]


def test_referenced_paths_reports_syntax_errors():
    with pytest.raises(TemplateError, match="template syntax error"):
        referenced_paths("{% if %}")


def test_has_template_syntax():
    assert has_template_syntax("Hi {{ x }}")
    assert has_template_syntax("{% if x %}{% endif %}")
    assert has_template_syntax("{# note #}")
    assert not has_template_syntax("plain text")
    assert not has_template_syntax(None)


@pytest.mark.parametrize("html", [False, True])
@pytest.mark.parametrize("text", ["", "vip", "a < b & 'c' \"d\"", "50% off }} %}", "ä 🙂\nline"])
def test_text_without_a_brace_is_its_own_rendering(text, html):
    assert render(text, {"contact": {"first_name": "Ann"}}, html=html) == text
    assert render(text + "{{ contact.first_name }}", {"contact": {"first_name": "A"}}) == text + "A"


def test_text_without_a_brace_comes_back_as_a_plain_str():
    from django.utils.safestring import SafeString, mark_safe

    rendered = render(mark_safe("<b>x</b>"), {}, html=True)
    assert rendered == "<b>x</b>"
    assert type(rendered) is str
    assert not isinstance(rendered, SafeString)


def test_a_comment_still_needs_the_template_engine():
    assert render("{# hidden #}shown", {}) == "shown"


def test_text_without_a_brace_still_checks_its_context_and_its_length():
    with pytest.raises(TemplateError, match="only plain data"):
        render("vip", {"contact": object()})
    with pytest.raises(TemplateError, match="too long"):
        render("x" * (MAX_SOURCE_CHARS + 1), {})
