"""Enroll (one, many, filter, background job), enrollments list, stats, test, detail, exit, logs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from engine.runtime.enrollment import enrollment_create
from tests.api.conftest import SIMPLE, error_of
from tests.cast import make_contact, make_published
from workflows import services
from workflows.models import EnrollJob, Enrollment, StepLog, Workflow
from workflows.tasks import enroll_job_run

pytestmark = pytest.mark.django_db

WAITING = {
    "name": "Waiting",
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "pause_a_day", "type": "wait", "config": {"duration": "1d"}},
        {"id": "hello", "type": "send_sms", "config": {"message": "Hi"}},
    ],
}


@pytest.fixture
def workflow(tenant) -> Workflow:
    return make_published(tenant, WAITING)


def test_enroll_one_contact(owner, tenant, workflow):
    contact = make_contact(tenant)
    response = owner.post(
        f"/api/workflows/{workflow.pk}/enroll", {"contact_id": contact.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"selected": 1, "enrolled": 1, "skipped": 0, "job": None}
    enrollment = Enrollment.objects.get(workflow=workflow)
    assert enrollment.status == "active"
    assert enrollment.current_step == "pause_a_day"


def test_enroll_a_list_skips_those_already_in(owner, tenant, workflow):
    first, second = make_contact(tenant), make_contact(tenant)
    url = f"/api/workflows/{workflow.pk}/enroll"
    owner.post(url, {"contact_id": first.pk}, format="json")
    body = owner.post(url, {"contact_ids": [first.pk, second.pk]}, format="json").json()
    assert body["selected"] == 2
    assert body["enrolled"] == 1
    assert body["skipped"] == 1


def test_enroll_by_rule_filter(owner, tenant, workflow):
    vip = make_contact(tenant, tags=["vip"])
    make_contact(tenant)
    body = owner.post(
        f"/api/workflows/{workflow.pk}/enroll",
        {"filters": [{"field": "tags", "operator": "contains", "value": "vip"}]},
        format="json",
    ).json()
    assert body["enrolled"] == 1
    assert Enrollment.objects.get().contact_id == vip.pk


def test_enroll_needs_exactly_one_selection(owner, workflow):
    response = owner.post(f"/api/workflows/{workflow.pk}/enroll", {}, format="json")
    assert response.status_code == 400
    assert "exactly one" in error_of(response)["message"]


def test_enroll_a_bad_rule_is_400(owner, tenant, workflow):
    make_contact(tenant)
    response = owner.post(
        f"/api/workflows/{workflow.pk}/enroll",
        {"filters": [{"field": "tags", "operator": "resembles", "value": "x"}]},
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_rules"


def test_enroll_into_a_paused_workflow_is_409(owner, tenant, workflow):
    services.workflow_pause(workflow=workflow)
    response = owner.post(
        f"/api/workflows/{workflow.pk}/enroll",
        {"contact_id": make_contact(tenant).pk},
        format="json",
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "enrollment_refused"


@override_settings(STUDIO_API_ENROLL_INLINE_MAX=2)
def test_a_large_enrollment_runs_as_a_job_with_readable_progress(
    owner, tenant, workflow, sent, django_capture_on_commit_callbacks
):
    contacts = [make_contact(tenant) for _ in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            f"/api/workflows/{workflow.pk}/enroll",
            {"contact_ids": [c.pk for c in contacts]},
            format="json",
        )
    assert response.status_code == 202
    job = response.json()["job"]
    assert job["status"] == "queued"
    assert job["total"] == 5
    assert sent.names() == [services.ENROLL_JOB_TASK]
    assert enroll_job_run(job["id"]) == "done"
    progress = owner.get(f"/api/enroll-jobs/{job['id']}").json()
    assert progress["processed"] == 5
    assert progress["enrolled"] == 5
    assert progress["finished_at"] is not None
    assert Enrollment.objects.filter(workflow=workflow).count() == 5
    # A redelivered task does not run the job twice.
    assert services.enroll_job_run(job_id=job["id"]).enrolled == 5


@override_settings(STUDIO_API_ENROLL_INLINE_MAX=2)
def test_a_job_whose_task_message_was_lost_is_sent_again_after_the_lease_and_runs_once(
    owner, tenant, workflow, sent, django_capture_on_commit_callbacks
):
    contacts = [make_contact(tenant) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            f"/api/workflows/{workflow.pk}/enroll",
            {"contact_ids": [c.pk for c in contacts]},
            format="json",
        )
    job_id = response.json()["job"]["id"]
    sent.sent.clear()  # the broker lost it
    lease = timedelta(seconds=settings.STUDIO_WORK_LEASE_SECONDS + 1)

    within = services.enroll_jobs_resend()
    resent = services.enroll_jobs_resend(now=timezone.now() + lease)
    again = services.enroll_jobs_resend(now=timezone.now() + lease)  # touched: once per lease
    messages = list(sent.sent)
    statuses = [enroll_job_run(*args) for _name, args in messages * 2]  # and delivered twice
    after = services.enroll_jobs_resend(now=timezone.now() + 3 * lease)

    assert (within, resent, again, after) == (0, 1, 0, 0)
    assert messages == [(services.ENROLL_JOB_TASK, [job_id])]
    assert statuses == ["done", "done"]
    assert EnrollJob.objects.get(pk=job_id).enrolled == 3
    assert Enrollment.objects.filter(workflow=workflow).count() == 3


@override_settings(STUDIO_API_ENROLL_INLINE_MAX=1)
def test_a_filter_job_and_a_failed_job(owner, tenant, workflow, sent):
    for _ in range(3):
        make_contact(tenant, tags=["bulk"])
    response = owner.post(
        f"/api/workflows/{workflow.pk}/enroll",
        {"filters": [{"field": "tags", "operator": "contains", "value": "bulk"}]},
        format="json",
    )
    assert response.status_code == 202
    job_id = response.json()["job"]["id"]
    services.workflow_pause(workflow=workflow)
    job = services.enroll_job_run(job_id=job_id)
    assert job.status == EnrollJob.Status.FAILED
    assert "paused" in job.error


def test_enrollments_list_filters(owner, tenant, workflow):
    first, second = make_contact(tenant), make_contact(tenant)
    enrollment_create(workflow=workflow, contact=first)
    done = enrollment_create(workflow=workflow, contact=second)
    Enrollment.objects.filter(pk=done.pk).update(status="completed", current_step="")
    url = f"/api/workflows/{workflow.pk}/enrollments"
    assert owner.get(url).json()["count"] == 2
    live = owner.get(f"{url}?status=active").json()["results"]
    assert [e["contact"] for e in live] == [first.pk]
    at_step = owner.get(f"{url}?current_step=pause_a_day").json()["results"]
    assert len(at_step) == 1
    assert owner.get(f"{url}?contact={second.pk}").json()["results"][0]["status"] == "completed"
    later = (timezone.now() + timezone.timedelta(days=1)).isoformat()
    assert owner.get(f"{url}?enrolled_after={later.replace('+', '%2B')}").json()["count"] == 0
    bad = owner.get(f"{url}?status=sleeping")
    assert bad.status_code == 400
    assert error_of(bad)["details"][0]["field"] == "status"


def test_stats_count_statuses_steps_and_ab_variants(owner, tenant):
    definition = {
        "name": "AB",
        "trigger": {"type": "manual"},
        "steps": [
            {
                "id": "split",
                "type": "ab_split",
                "config": {"variants": [{"name": "A", "weight": 1}, {"name": "B", "weight": 1}]},
            },
            {"id": "won", "type": "goal", "config": {"condition": []}},
        ],
    }
    workflow = make_published(tenant, definition)
    contacts = [make_contact(tenant) for _ in range(3)]
    rows = [enrollment_create(workflow=workflow, contact=c) for c in contacts]
    Enrollment.objects.filter(pk=rows[0].pk).update(
        status="completed", context={"steps": {"split": {"variant": "A"}, "won": {"met": True}}}
    )
    Enrollment.objects.filter(pk=rows[1].pk).update(
        status="failed", context={"steps": {"split": {"variant": "B"}}}
    )
    StepLog.objects.create(
        tenant=tenant, workflow=workflow, enrollment=rows[0], step_id="split",
        step_type="ab_split", status="succeeded", started_at=timezone.now(), token_usage=7,
    )  # fmt: skip
    stats = owner.get(f"/api/workflows/{workflow.pk}/stats").json()
    assert stats["enrolled"] == 3
    assert stats["completed"] == 1
    assert stats["failed"] == 1
    assert stats["success_rate"] == 0.5
    assert stats["tokens"] == 7
    assert stats["steps"]["split"]["done"] == 1
    assert stats["ab_tests"]["split"] == [
        {"variant": "A", "enrolled": 1, "goal_conversions": 1},
        {"variant": "B", "enrolled": 1, "goal_conversions": 0},
    ]


def test_test_dry_runs_the_draft_and_writes_nothing(owner, tenant):
    workflow = owner.post("/api/workflows", SIMPLE, format="json").json()
    contact = make_contact(tenant, first_name="Zed")
    before = (Enrollment.objects.count(), StepLog.objects.count())
    response = owner.post(
        f"/api/workflows/{workflow['id']}/test",
        {"contact_id": contact.pk, "trigger": {"source": "api"}},
        format="json",
    )
    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "completed"
    assert report["path"] == ["hello", "tag_it"]
    assert report["outbox"][0]["body"] == "Hi Zed"
    assert (Enrollment.objects.count(), StepLog.objects.count()) == before
    assert contact.tags.count() == 0


def test_test_with_inline_contact_and_a_bad_event(owner):
    workflow = owner.post("/api/workflows", SIMPLE, format="json").json()
    url = f"/api/workflows/{workflow['id']}/test"
    sample = {"first_name": "Ann", "phone": "+4915100000001"}
    ok = owner.post(url, {"contact": sample}, format="json").json()
    assert ok["outbox"][0]["body"] == "Hi Ann"
    bad = owner.post(url, {"events": [{"after": "1d"}]}, format="json")
    assert bad.status_code == 400
    assert error_of(bad)["code"] == "invalid_test_input"


def test_enrollment_detail_exit_logs_and_runlog(owner, tenant, workflow):
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    url = f"/api/enrollments/{enrollment.pk}"
    detail = owner.get(url).json()
    assert detail["current_step"] == "pause_a_day"
    assert detail["version"] == 1
    assert "timeline" in detail
    exited = owner.post(f"{url}/exit", {"reason": "asked to stop"}, format="json").json()
    assert exited["status"] == "exited"
    assert exited["exit_reason"] == "asked to stop"
    again = owner.post(f"{url}/exit", {}, format="json")
    assert again.status_code == 409
    logs = owner.get(f"{url}/logs").json()
    assert "results" in logs
    runlog = owner.get(f"{url}/runlog").json()
    assert runlog["execution_id"] == str(enrollment.pk)
    assert runlog["status"] == "completed"
