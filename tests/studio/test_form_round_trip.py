"""Saving the workflow page unchanged never changes the draft: every shape the format accepts
either round-trips through the form fields or is shown (and kept) in the raw YAML field."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.definition import definition_to_dict
from tests.cast import make_tenant
from tests.studio.cast import studio_staff
from workflows.models import Workflow
from workflows.services import definition_validate, draft_definition, workflow_import

pytestmark = pytest.mark.django_db

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").iterdir())

# Shapes the examples do not use: nested groups, CEL strings, a single rule, more rules than
# rows, values that look like JSON, text with surrounding blank lines, filters as {any: …}.
UNUSUAL = """
name: Unusual shapes
description: "  spaced  "
trigger:
  type: tag_added
  config: {tag: vip}
  filters:
    any:
      - {field: email, operator: is_not_empty}
      - {field: phone, operator: is_not_empty}
settings:
  timezone: Europe/Berlin
steps:
  - id: nested
    type: condition
    config:
      if:
        all:
          - {field: email, operator: is_not_empty}
          - any:
              - {field: tags, operator: contains, value: a}
              - {field: tags, operator: contains, value: b}
      then: cel
      else: single
  - id: cel
    type: condition
    config:
      if: {expression: "contact.email != ''"}
      then: single
      else: many
  - id: single
    type: condition
    config:
      if: {field: first_name, operator: equals, value: "true"}
      then: many
      else: end
  - id: many
    type: condition
    config:
      if:
        - {field: first_name, operator: equals, value: "3"}
        - {field: last_name, operator: equals, value: " padded "}
        - {field: city, operator: is_not_empty}
        - {field: email, operator: is_not_empty}
      then: mail
      else: end
  - id: mail
    type: send_email
    config:
      subject: "Hi {{contact.first_name}}"
      body: |

        Line one
        Line two

    delay: 2h
"""


class FormFields(HTMLParser):
    """The (name, value) pairs a browser submits for the page's workflow form."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pairs: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._option: dict | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)
        elif self._option is not None:
            self._option["text"] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            value = self._option["value"]
            text = self._option["text"] if value is None else value
            self._options.append((text, self._option["selected"]))
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected]
            chosen = chosen or [v for v, _ in self._options[:1]]
            self.pairs += [(self._select, chosen[0])] if chosen else []
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            text = text[1:] if text.startswith("\n") else text  # as the HTML parser drops it
            # Browsers submit a textarea's line breaks as CRLF.
            self.pairs.append((self._textarea, text.replace("\n", "\r\n")))
            self._textarea = None


def browser_post(html: str) -> dict:
    parser = FormFields()
    parser.feed(html)
    data: dict = {}
    for name, value in parser.pairs:
        if name in ("csrfmiddlewaretoken",) or "__prefix__" in name:
            continue
        data.setdefault(name, []).append(value)
    data["_continue"] = ["Save and continue editing"]
    return data


def save_unchanged(client, workflow: Workflow):
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, browser_post(page.content.decode()))
    assert response.status_code == 302, _errors(response)


def _errors(response) -> str:
    context = response.context or {}
    form = context.get("adminform")
    formsets = context.get("inline_admin_formsets") or []
    errors = [form.form.errors if form else None]
    errors += [f.formset.errors for f in formsets]
    return repr(errors)


def _problems(tenant, definition) -> list[str]:
    result = definition_validate(tenant=tenant, definition=definition)
    return sorted(f"{p.path}: {p.message}" for p in [*result.errors, *result.warnings])


@pytest.fixture
def owner(client):
    tenant = make_tenant("roundtrip")
    client.force_login(studio_staff(tenant))
    return tenant


@pytest.mark.parametrize("text", [*EXAMPLES, UNUSUAL], ids=lambda p: getattr(p, "name", "unusual"))
def test_saving_the_page_unchanged_keeps_the_draft_exactly(client, owner, text):
    source = text.read_text() if isinstance(text, Path) else text
    workflow = workflow_import(tenant=owner, text=source).workflow
    before = draft_definition(workflow=workflow)
    problems_before = _problems(owner, before)

    save_unchanged(client, workflow)
    after = draft_definition(workflow=Workflow.objects.get(pk=workflow.pk))

    assert definition_to_dict(after) == definition_to_dict(before)
    assert _problems(owner, after) == problems_before
    # And a second unchanged save is just as harmless.
    save_unchanged(client, workflow)
    again = draft_definition(workflow=Workflow.objects.get(pk=workflow.pk))
    assert definition_to_dict(again) == definition_to_dict(before)


def test_a_shape_the_rule_rows_cannot_show_is_shown_as_yaml_on_the_page(client, owner):
    workflow = workflow_import(tenant=owner, text=UNUSUAL).workflow

    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()

    assert "expression: contact.email != &#x27;&#x27;" in page or "contact.email !=" in page
    assert "More config (YAML)" in page
