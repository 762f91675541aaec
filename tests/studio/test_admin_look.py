"""The studio's own forms look like unfold's, and the small things a non-programmer reads:
header actions that apply, plural messages, human durations, labels, the favicon."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission

from crm.admin_style import count_of, human_duration
from tests.studio.cast import populate, studio_staff
from workflows.models import Enrollment, Workflow

pytestmark = pytest.mark.django_db

UNFOLD_CONTROL = "border-base-200"  # on every unfold text input, select and text area


@pytest.fixture
def shop():
    return populate("Alpha")


def controls(page: str) -> list[str]:
    """Every visible <input>, <select> and <textarea> tag of ``page`` (not hidden, submit or
    unfold's own command search box)."""
    tags = re.findall(r"<(?:input|select|textarea)\b[^>]*>", page)
    return [
        tag
        for tag in tags
        if not re.search(r'type="(hidden|submit|checkbox|radio|file|search)"', tag)
        and not re.search(r"\sdisabled[\s>=]", tag)
    ]


def unstyled(page: str, name_pattern: str = "") -> list[str]:
    return [
        tag
        for tag in controls(page)
        if re.search(f'name="{name_pattern}', tag) and UNFOLD_CONTROL not in tag
    ]


def test_every_control_of_the_step_forms_and_the_trigger_has_unfold_classes(client, shop):
    client.force_login(studio_staff(shop["tenant"]))
    page = client.get(f"/admin/workflows/workflow/{shop['workflow'].pk}/change/").content.decode()
    # The kind select, next step, on error and every kind-specific field of each step row.
    for name in ("steps-0-type", "steps-0-next_step", "steps-0-on_error", "steps-0-cfg_"):
        assert re.search(f'name="{name}', page), name
    assert unstyled(page) == []


@pytest.mark.parametrize(
    "url",
    [
        "/admin/workflows/workflow/{pk}/test/",
        "/admin/workflows/workflow/{pk}/yaml/",
        "/admin/workflows/workflow/import/",
        "/admin/workflows/workflow/run-now/?ids={pk}",
    ],
)
def test_the_custom_workflow_pages_draw_unfold_controls_and_buttons(client, shop, url):
    client.force_login(studio_staff(shop["tenant"]))
    response = client.get(url.format(pk=shop["workflow"].pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert controls(page)
    assert unstyled(page) == []
    assert re.search(r'<button type="submit"[^>]*class="[^"]*bg-primary-600', page)


def test_the_import_file_input_sits_in_unfolds_file_widget(client, shop):
    """unfold's app.js finds the file name box three levels above a file input; a bare
    <input type=file> has none, and choosing a file threw "setAttribute of null"."""
    client.force_login(studio_staff(shop["tenant"]))
    page = client.get("/admin/workflows/workflow/import/").content.decode()
    match = re.search(
        r'<label for="id_file" class="flex grow relative">\s*<input type="text"[^>]*disabled'
        r'[^>]*>\s*<span[^>]*>\s*<input type="file" name="file"',
        page,
    )
    assert match, "the file input is not inside unfold's wrapper"


def test_the_enroll_form_and_the_try_it_form_have_real_buttons(client, shop):
    client.force_login(studio_staff(shop["tenant"]))
    contact = shop["contact"]
    page = client.post(
        "/admin/crm/contact/",
        {"action": "enroll_in_workflow", "_selected_action": [contact.pk]},
    ).content.decode()
    assert "Enroll in" in page or "Enroll these" in page
    assert unstyled(page, "workflow") == []
    assert re.search(r'<button type="submit"[^>]*>Enroll</button>', page)
    prompt = shop["prompt"]
    page = client.get(f"/admin/prompts/prompt/{prompt.pk}/try/").content.decode()
    assert unstyled(page) == []
    assert re.search(r'<button type="submit"[^>]*>Run the prompt</button>', page)


def header_actions(client, workflow) -> list[str]:
    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()
    names = ("publish", "pause", "resume", "archive", "restore")
    return [n for n in names if f"/admin/workflows/workflow/{workflow.pk}/{n}/" in page]


def test_the_header_shows_only_the_status_actions_that_apply(client, shop):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"]))
    expected = {
        Workflow.Status.DRAFT: ["publish"],
        Workflow.Status.ACTIVE: ["publish", "pause", "archive"],
        Workflow.Status.PAUSED: ["publish", "resume", "archive"],
        Workflow.Status.ARCHIVED: ["restore"],
    }
    for status, actions in expected.items():
        Workflow.objects.filter(pk=workflow.pk).update(status=status)
        assert header_actions(client, workflow) == actions, status
    # Restore asks first, then brings the archived workflow back (paused: it was published).
    url = f"/admin/workflows/workflow/{workflow.pk}/restore/"
    assert "Cancel" in client.get(url).content.decode()
    response = client.post(url, follow=True)
    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.PAUSED
    assert "1 workflow restored." in response.content.decode()
    # The page's tools sit in the body now, the header keeps only History and the actions.
    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()
    tools = page[page.index('id="studio-tools"') :]
    assert tools.index("Test (dry-run)") < tools.index("</nav>")


def test_the_list_toggle_asks_before_it_disables(client, shop):
    client.force_login(studio_staff(shop["tenant"]))
    page = client.get("/admin/workflows/workflow/").content.decode()
    assert re.search(r'<button[^>]*data-confirm="Pause &#x27;Alpha flow&#x27;\?[^"]*"', page)
    assert "studio/confirm.js" in page


def test_a_new_workflow_starts_in_my_only_tenant(client, shop):
    client.force_login(studio_staff(shop["tenant"]))
    page = client.get("/admin/workflows/workflow/add/").content.decode()
    assert re.search(rf'<option value="{shop["tenant"].pk}" selected>', page)


def test_a_revoked_date_is_never_typed_on_the_token_form(client, shop):
    user = studio_staff(shop["tenant"])
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="api"))
    client.force_login(user)
    page = client.get("/admin/api/apitoken/add/").content.decode()
    assert 'name="revoked_at' not in page
    assert "Revoked at" in page


def test_enrollments_say_ended_at_and_durations_are_human(client, shop):
    client.force_login(studio_staff(shop["tenant"]))
    page = client.get("/admin/workflows/enrollment/").content.decode()
    assert "Ended at" in page
    assert "Completed at" not in page
    enrollment = Enrollment.objects.filter(tenant=shop["tenant"]).first()
    page = client.get(f"/admin/workflows/enrollment/{enrollment.pk}/change/").content.decode()
    assert "Ended at" in page
    assert "Completed at" not in page
    assert [human_duration(ms) for ms in (None, 850, 4200, 300000, 330000, 7500000)] == [
        "", "850 ms", "4.2 s", "5 min", "5 min 30 s", "2 h 5 min"
    ]  # fmt: skip
    assert (count_of(1, "workflow"), count_of(2, "workflow")) == ("1 workflow", "2 workflows")


def test_the_app_is_called_crm_and_every_page_links_a_favicon(client, shop):
    client.force_login(studio_staff(shop["tenant"]))
    page = client.get("/admin/").content.decode()
    assert re.search(r'title="Models in the CRM application">\s*CRM\s*<', page)
    assert "Crm" not in page
    assert re.search(r'<link rel="icon"[^>]*href="/static/studio/favicon[^"]*\.svg"', page)
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert "/static/studio/favicon" in response["Location"]
