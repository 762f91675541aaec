"""Staff of one tenant never see or choose another tenant's rows, on any admin screen.

The walk covers lists (with their filters), add forms (their choices), change / delete /
history pages and every custom page of each admin by id, autocomplete answers and actions.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth import get_user
from django.test import RequestFactory

from prompts.models import Prompt
from tests.studio.cast import populate, studio_staff
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

THEIRS = "zorro"
STUDIO_APPS = {"crm", "workflows", "prompts"}


@pytest.fixture
def mine_and_theirs(client):
    mine = populate("Alpha")
    theirs = populate("Zorro")
    client.force_login(studio_staff(mine["tenant"], role="owner"))
    return mine, theirs


def studio_admins():
    return [(m, ma) for m, ma in admin.site._registry.items() if m._meta.app_label in STUDIO_APPS]


def their_rows(model, tenant):
    if model._meta.label == "crm.Tenant":
        return model.objects.filter(pk=tenant.pk)
    if hasattr(model, "tenant"):
        return model.objects.filter(tenant=tenant)
    if model._meta.label == "workflows.WorkflowVersion":
        return model.objects.filter(workflow__tenant=tenant)
    raise AssertionError(f"{model._meta.label}: the walk does not know how to find its tenant")


def assert_hidden(response, where: str) -> None:
    body = response.content.decode().lower()
    assert response.status_code < 500, where
    assert THEIRS not in body, f"{where} shows another tenant's row"


def test_lists_and_add_forms_hold_only_my_tenants_rows(client, mine_and_theirs):
    _, theirs = mine_and_theirs
    for model, _ in studio_admins():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        assert_hidden(client.get(base), base)
        assert_hidden(client.get(base + "add/"), base + "add/")
        # A filter pointed at their rows by hand still shows none of them.
        for field in ("workflow", "contact", "tenant"):
            if any(f.name == field for f in opts.get_fields()):
                target = theirs[field] if field != "tenant" else theirs["tenant"]
                url = f"{base}?{field}__id__exact={target.pk}"
                assert_hidden(client.get(url), url)


def test_every_page_by_id_refuses_their_rows(client, mine_and_theirs):
    _, theirs = mine_and_theirs
    visited = 0
    for model, model_admin in studio_admins():
        opts = model._meta
        patterns = [
            str(p.pattern) for p in model_admin.get_urls() if "<path:object_id>" in str(p.pattern)
        ]
        for row in their_rows(model, theirs["tenant"]):
            for pattern in patterns:
                url = f"/admin/{opts.app_label}/{opts.model_name}/" + re.sub(
                    r"<path:object_id>", str(row.pk), pattern.lstrip("^").rstrip("$")
                )
                response = client.get(url)
                visited += 1
                assert response.status_code in (302, 403, 404), url
                assert_hidden(response, url)
    assert visited > 30


def test_autocomplete_answers_only_my_rows(client, mine_and_theirs):
    asked = 0
    for model, model_admin in admin.site._registry.items():
        owners = [model_admin, *(inline(model, admin.site) for inline in model_admin.inlines)]
        for owner in owners:
            for field_name in owner.autocomplete_fields:
                opts = owner.model._meta
                response = client.get(
                    "/admin/autocomplete/",
                    {
                        "app_label": opts.app_label,
                        "model_name": opts.model_name,
                        "field_name": field_name,
                        "term": "",
                    },
                )
                asked += 1
                assert_hidden(response, f"autocomplete {opts.label}.{field_name}")
    assert asked >= 1


def test_actions_on_their_ids_change_nothing(client, mine_and_theirs):
    _, theirs = mine_and_theirs
    workflow, prompt = theirs["workflow"], theirs["prompt"]
    before = (workflow.status, prompt.status)
    for model, row in ((Workflow, workflow), (Prompt, prompt)):
        model_admin = admin.site._registry[model]
        opts = model._meta
        for name in model_admin.get_actions(_request_for(client)):
            client.post(
                f"/admin/{opts.app_label}/{opts.model_name}/",
                {"action": name, helpers.ACTION_CHECKBOX_NAME: [row.pk], "index": 0},
            )
    workflow.refresh_from_db()
    prompt.refresh_from_db()
    assert (workflow.status, prompt.status) == before
    assert Workflow.objects.filter(tenant=theirs["tenant"]).count() == 1
    assert Prompt.objects.filter(tenant=theirs["tenant"]).count() == 1


def _request_for(client):
    request = RequestFactory().get("/admin/")
    request.user = get_user(client)
    return request
