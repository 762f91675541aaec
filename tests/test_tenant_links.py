"""Every relation between tenant-owned rows stays inside one tenant.

Model validation names the field (so every form and serializer shows it), and the database
refuses the row even when validation is skipped (services, commands, the engine).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Booking, Call, ContactTag, Message, Tag, Task
from crm.services import membership_add
from prompts.models import Prompt
from tests.cast import make_contact, make_published, make_staff, make_tenant
from workflows.models import Enrollment, ScheduledAction, SideEffect, StepLog, WorkflowStep

pytestmark = pytest.mark.django_db

FLOW = {"steps": [{"id": "done", "type": "exit"}]}


@pytest.fixture
def cast():
    """Tenant A's staff and rows, and tenant B's rows with recognisable names."""
    a, b = make_tenant("tenant-a"), make_tenant("tenant-b")
    staff_a, staff_b = make_staff(a, username="alice"), make_staff(b, username="bobby-of-b")
    return {
        "a": a,
        "b": b,
        "staff_a": staff_a,
        "staff_b": staff_b,
        "contact_a": make_contact(a, first_name="Anna"),
        "contact_b": make_contact(b, first_name="Bertholde"),
        "tag_b": Tag.objects.create(tenant=b, name="b-secret-tag"),
        "flow_a": make_published(a, {**FLOW, "name": "Flow A"}),
        "flow_b": make_published(b, {**FLOW, "name": "Flow B"}),
        "prompt_b": Prompt.objects.create(tenant=b, name="b-prompt", system_prompt_text="x"),
    }


def _enrollment(c, **overrides):
    fields = {
        "tenant": c["a"],
        "workflow": c["flow_a"],
        "version": c["flow_a"].published_version,
        "contact": c["contact_a"],
    }
    return Enrollment(**{**fields, **overrides})


def cross_tenant_rows(c):
    """(a row with one link into tenant B, the field that leaves its tenant)."""
    now = timezone.now()
    return {
        "message.contact": (
            Message(tenant=c["a"], contact=c["contact_b"], channel="sms", direction="inbound"),
            "contact",
        ),
        "call.contact": (
            Call(tenant=c["a"], contact=c["contact_b"], direction="inbound", status="missed"),
            "contact",
        ),
        "booking.contact": (
            Booking(tenant=c["a"], contact=c["contact_b"], title="x", starts_at=now),
            "contact",
        ),
        "task.contact": (
            Task(tenant=c["a"], contact=c["contact_b"], title="x", due_at=now),
            "contact",
        ),
        "task.assigned_to": (
            Task(tenant=c["a"], title="x", due_at=now, assigned_to=c["staff_b"]),
            "assigned_to",
        ),
        "contacttag.tag": (ContactTag(contact=c["contact_a"], tag=c["tag_b"]), "tag"),
        "enrollment.workflow": (
            _enrollment(c, workflow=c["flow_b"], version=c["flow_b"].published_version),
            "workflow",
        ),
        "enrollment.version": (_enrollment(c, version=c["flow_b"].published_version), "version"),
        "enrollment.contact": (_enrollment(c, contact=c["contact_b"]), "contact"),
        "workflowstep.prompt": (
            WorkflowStep(workflow=c["flow_a"], step_id="s", type="ai_prompt", prompt=c["prompt_b"]),
            "prompt",
        ),
        "steplog.prompt": (
            StepLog(
                tenant=c["a"],
                step_id="s",
                step_type="ai_prompt",
                prompt=c["prompt_b"],
                started_at=now,
            ),
            "prompt",
        ),
        "steplog.workflow": (
            StepLog(
                tenant=c["a"], step_id="s", step_type="exit", workflow=c["flow_b"], started_at=now
            ),
            "workflow",
        ),
    }


CASES = [
    "message.contact",
    "call.contact",
    "booking.contact",
    "task.contact",
    "task.assigned_to",
    "contacttag.tag",
    "enrollment.workflow",
    "enrollment.version",
    "enrollment.contact",
    "workflowstep.prompt",
    "steplog.prompt",
    "steplog.workflow",
]


@pytest.mark.parametrize("case", CASES)
def test_validation_names_the_field_that_leaves_the_tenant(cast, case):
    row, field = cross_tenant_rows(cast)[case]

    with pytest.raises(ValidationError) as caught:
        row.full_clean()

    assert field in caught.value.message_dict
    message = caught.value.message_dict[field][0]
    assert "another tenant" in message or "not a member" in message or "another workflow" in message


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("steplog")])
def test_the_database_refuses_the_row_when_validation_is_skipped(cast, case):
    row, _ = cross_tenant_rows(cast)[case]
    model = type(row)
    before = model.objects.count()

    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()

    assert model.objects.count() == before


def test_changing_a_link_to_another_tenant_is_refused_too(cast):
    message = Message.objects.create(
        tenant=cast["a"], contact=cast["contact_a"], channel="sms", direction="inbound"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.filter(pk=message.pk).update(contact=cast["contact_b"])

    message.refresh_from_db()
    assert message.contact == cast["contact_a"]


def test_a_workflow_cannot_publish_another_workflows_version(cast):
    flow_a = cast["flow_a"]
    flow_a.published_version = cast["flow_b"].published_version

    with pytest.raises(ValidationError) as caught:
        flow_a.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        flow_a.save()

    assert "published_version" in caught.value.message_dict


def test_same_tenant_rows_are_valid_and_saved(cast):
    now = timezone.now()
    a, contact = cast["a"], cast["contact_a"]
    Task.objects.create(
        tenant=a, contact=contact, title="t", due_at=now, assigned_to=cast["staff_a"]
    )
    ContactTag.objects.create(contact=contact, tag=Tag.objects.create(tenant=a, name="mine"))
    enrollment = _enrollment(cast)
    enrollment.full_clean()
    enrollment.save()
    ScheduledAction(tenant=a, enrollment=enrollment, step_id="done", due_at=now).full_clean()
    SideEffect(tenant=a, enrollment=enrollment, step_id="done", kind="sms", key="k").full_clean()

    assert Enrollment.objects.filter(tenant=a).count() == 1


# -- the admin: what tenant A's staff can see by editing ids in URLs --------------------------


@pytest.fixture
def staff_client(client, cast):
    cast["staff_a"].user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["crm", "workflows", "prompts"])
    )
    client.force_login(cast["staff_a"])
    return client


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("/admin/crm/message/add/?contact={contact_b}", "Bertholde"),
        ("/admin/crm/call/add/?contact={contact_b}", "Bertholde"),
        ("/admin/crm/booking/add/?contact={contact_b}", "Bertholde"),
        ("/admin/crm/task/add/?contact={contact_b}", "Bertholde"),
        ("/admin/workflows/enrollment/add/?contact={contact_b}&workflow={flow_b}", "Bertholde"),
        ("/admin/workflows/enrollment/add/?workflow={flow_b}", "Flow B"),
        ("/admin/workflows/steplog/add/?prompt={prompt_b}", "b-prompt"),
        ("/admin/workflows/scheduledaction/add/?enrollment={enrollment_b}", "Bertholde"),
    ],
)
def test_add_pages_prefilled_with_another_tenants_ids_do_not_show_their_names(
    staff_client, cast, url, secret
):
    enrollment_b = Enrollment.objects.create(
        tenant=cast["b"],
        workflow=cast["flow_b"],
        version=cast["flow_b"].published_version,
        contact=cast["contact_b"],
    )
    ids = {key: getattr(value, "pk", None) for key, value in cast.items()}

    response = staff_client.get(url.format(**ids, enrollment_b=enrollment_b.pk))

    assert response.status_code in (200, 403)
    assert secret not in response.content.decode()


def test_add_pages_prefilled_with_my_ids_show_my_names(staff_client, cast):
    response = staff_client.get(f"/admin/crm/message/add/?contact={cast['contact_a'].pk}")

    assert "Anna" in response.content.decode()


def test_the_task_assignee_list_shows_only_my_tenants_people(staff_client, cast):
    page = staff_client.get("/admin/crm/task/add/").content.decode()

    assert "alice" in page
    assert "bobby-of-b" not in page


def test_saving_a_task_for_another_tenants_user_shows_a_form_error(staff_client, cast):
    now = timezone.now() + timedelta(days=1)
    response = staff_client.post(
        "/admin/crm/task/add/",
        {
            "tenant": cast["a"].pk,
            "title": "Call back",
            "due_at_0": now.strftime("%Y-%m-%d"),
            "due_at_1": now.strftime("%H:%M:%S"),
            "status": "open",
            "assigned_to": cast["staff_b"].pk,
        },
    )

    assert response.status_code == 200
    assert not Task.objects.exists()


def test_staff_cannot_add_another_tenants_user_as_a_member(cast):
    with pytest.raises(PermissionDenied, match="belongs to a tenant you are not a member of"):
        membership_add(tenant=cast["a"], user=cast["staff_b"], actor=cast["staff_a"])
    with pytest.raises(PermissionDenied, match="not a member of tenant 'tenant-b'"):
        membership_add(tenant=cast["b"], user=make_staff(), actor=cast["staff_a"])

    assert not cast["staff_b"].tenant_memberships.filter(tenant=cast["a"]).exists()


def test_staff_may_add_a_new_user_and_a_superuser_anyone(cast):
    newcomer = make_staff(username="newcomer")
    root = make_staff(username="root", is_superuser=True)

    membership_add(tenant=cast["a"], user=newcomer, actor=cast["staff_a"])
    membership_add(tenant=cast["a"], user=cast["staff_b"], actor=root, role="viewer")

    assert set(cast["a"].memberships.values_list("user__username", "role")) == {
        ("alice", "editor"),
        ("newcomer", "editor"),
        ("bobby-of-b", "viewer"),
    }


# -- the engine: an enrollment whose links leave its tenant never runs -----------------------


def _bad_enrollment_written_past_the_triggers(**links):
    """A row as an old database (before the triggers) may still hold."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        try:
            enrollment = Enrollment.objects.create(current_step="done", **links)
        finally:
            cursor.execute("SET LOCAL session_replication_role = origin")
    return enrollment


@pytest.mark.parametrize("leak", ["workflow", "version", "contact"])
def test_the_engine_refuses_to_run_an_enrollment_linking_another_tenant(
    require_postgres, cast, leak
):
    from engine.runtime.executor import step_run

    links = {
        "tenant": cast["a"],
        "workflow": cast["flow_a"],
        "version": cast["flow_a"].published_version,
        "contact": cast["contact_a"],
    }
    if leak == "workflow":
        links.update(workflow=cast["flow_b"], version=cast["flow_b"].published_version)
    elif leak == "version":
        links["version"] = cast["flow_b"].published_version
    else:
        links["contact"] = cast["contact_b"]
    enrollment = _bad_enrollment_written_past_the_triggers(**links)

    assert step_run(enrollment_id=enrollment.pk, step_id="done", seq=0) == "refused"

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert "of another tenant" in enrollment.error
    assert not StepLog.objects.filter(enrollment=enrollment).exists()


def test_the_engine_runs_a_consistent_enrollment(cast, settings):
    from engine.runtime.executor import step_run

    enrollment = _enrollment(cast)
    enrollment.current_step = "done"
    enrollment.save()

    assert step_run(enrollment_id=enrollment.pk, step_id="done", seq=0) != "refused"
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.EXITED


def test_enrolling_with_another_workflows_version_is_refused(cast):
    from engine.runtime.enrollment import EnrollmentRefused, enrollment_create

    other = make_published(
        cast["a"], {"name": "Other flow", "steps": [{"id": "x", "type": "exit"}]}
    )
    with pytest.raises(EnrollmentRefused, match="is not a version of"):
        enrollment_create(
            workflow=cast["flow_a"], contact=cast["contact_a"], version=other.published_version
        )
    assert not Enrollment.objects.filter(contact=cast["contact_a"], version=other.published_version)
