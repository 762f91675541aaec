"""The dashboard (admin index): charts and figures of the user's tenant only."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import Contact
from tests.cast import make_contact, make_published, make_tenant
from tests.studio.cast import populate, studio_staff
from workflows.dashboard import ab_results
from workflows.models import Enrollment, StepLog

pytestmark = pytest.mark.django_db


def chart_data(page: str) -> list[dict]:
    found = re.findall(r'data-value="([^"]+)"', page)
    return [json.loads(value.replace("&quot;", '"')) for value in found]


def test_the_dashboard_charts_runs_failures_and_ai_cost_of_my_tenant(client):
    mine, _ = populate("Alpha"), populate("Zorro")
    enrollment = Enrollment.objects.get(workflow=mine["workflow"])
    StepLog.objects.create(
        tenant=mine["tenant"],
        workflow=mine["workflow"],
        enrollment=enrollment,
        step_id="Alpha_done",
        step_type="ai_prompt",
        status=StepLog.Status.FAILED,
        started_at=timezone.now(),
        model_name="gemini-2.5-flash",
        input_tokens=100,
        output_tokens=20,
        cost=Decimal("0.0125"),
    )
    mine["tenant"].ai_monthly_cost_cap = Decimal("5.00")
    mine["tenant"].save()
    client.force_login(studio_staff(mine["tenant"]))
    page = client.get("/admin/").content.decode()
    assert "Dashboard · Alpha Inc" in page
    assert "zorro" not in page.lower()
    charts = {c["datasets"][0]["label"]: c for c in chart_data(page)}
    assert charts["Runs started"]["datasets"][0]["data"][-1] == 1
    assert charts["Failed runs"]["labels"] == ["Alpha flow · Alpha_done"]
    assert charts["AI tokens"]["datasets"][0]["data"][-1] == 120
    assert charts["AI cost (USD)"]["datasets"][0]["data"][-1] == 0.0125
    assert "$0.01" in page
    assert "of a $5.00 cap" in page
    waiting = re.search(r'id="studio-waiting-total">(\d+)<', page)
    assert waiting.group(1) == "1"


def test_ab_results_count_each_variant_and_its_goal_conversions():
    tenant = make_tenant("ab")
    workflow = make_published(
        tenant,
        {
            "name": "Split",
            "steps": [
                {"id": "split", "type": "ab_split", "config": {"variants": [
                    {"name": "A", "weight": 50}, {"name": "B", "weight": 50}]}},
                {"id": "bought", "type": "goal", "config": {"condition": []}},
            ],
        },
    )  # fmt: skip
    for variant, met in (("A", True), ("A", False), ("B", False)):
        Enrollment.objects.create(
            tenant=tenant,
            workflow=workflow,
            version=workflow.published_version,
            contact=make_contact(tenant),
            status="completed",
            context={"steps": {"split": {"variant": variant}, "bought": {"met": met}}},
        )
    rows = {r["variant"]: r for r in ab_results(tenant=tenant)}
    assert (rows["A"]["enrolled"], rows["A"]["converted"], rows["A"]["rate"]) == (2, 1, 0.5)
    assert (rows["B"]["enrolled"], rows["B"]["converted"]) == (1, 0)
    assert Contact.objects.filter(tenant=tenant).count() == 3


def one_day_of_runs(tenant) -> None:
    """Two finished runs (one completed, one failed) today, with one AI call: one data point."""
    workflow = make_published(
        tenant,
        {"name": "Today", "steps": [{"id": "bye", "type": "exit", "config": {"reason": "x"}}]},
    )
    for status in ("completed", "failed"):
        enrollment = Enrollment.objects.create(
            tenant=tenant,
            workflow=workflow,
            version=workflow.published_version,
            contact=make_contact(tenant),
            status=status,
        )
    StepLog.objects.create(
        tenant=tenant,
        workflow=workflow,
        enrollment=enrollment,
        step_id="bye",
        step_type="ai_prompt",
        status=StepLog.Status.SUCCEEDED,
        started_at=timezone.now(),
        model_name="gemini-2.5-flash",
        input_tokens=50,
        output_tokens=10,
        cost=Decimal("0.002"),
    )


def visible_points(chart: dict) -> list:
    return [v for v in chart["datasets"][0]["data"] if v]


def test_every_chart_draws_a_single_day_of_data(client):
    tenant = make_tenant("oneday")
    one_day_of_runs(tenant)
    client.force_login(studio_staff(tenant))
    page = client.get("/admin/").content.decode()
    charts = {c["datasets"][0]["label"]: c for c in chart_data(page)}
    assert set(charts) == {"Runs started", "Success rate (%)", "AI tokens", "AI cost (USD)"}
    assert visible_points(charts["Runs started"]) == [2]
    assert visible_points(charts["Success rate (%)"]) == [50.0]
    assert visible_points(charts["AI tokens"]) == [60]
    assert visible_points(charts["AI cost (USD)"]) == [0.002]
    for label in ("Success rate (%)", "AI cost (USD)"):
        # A line chart draws a lone point only when points are drawn (unfold hides them).
        dataset = charts[label]["datasets"][0]
        assert dataset["pointStyle"] == "circle"
        assert dataset["pointRadius"] > 0
    for label in ("Runs started", "AI tokens"):
        assert charts[label]["datasets"][0]["maxBarThickness"] >= 12
    assert "No data yet" not in page


def test_a_zero_success_rate_is_still_drawn(client):
    tenant = make_tenant("allfail")
    workflow = make_published(
        tenant, {"name": "F", "steps": [{"id": "x", "type": "exit", "config": {"reason": "x"}}]}
    )
    Enrollment.objects.create(
        tenant=tenant,
        workflow=workflow,
        version=workflow.published_version,
        contact=make_contact(tenant),
        status="failed",
    )
    client.force_login(studio_staff(tenant))
    charts = {
        c["datasets"][0]["label"]: c for c in chart_data(client.get("/admin/").content.decode())
    }
    assert charts["Success rate (%)"]["datasets"][0]["data"][-1] == 0.0


def test_charts_without_data_say_no_data_yet_instead_of_an_empty_box(client):
    tenant = make_tenant("empty")
    client.force_login(studio_staff(tenant))
    page = client.get("/admin/").content.decode()
    assert chart_data(page) == []
    assert 'class="chart"' not in page
    for name in ("runs", "success", "tokens", "cost"):
        assert f'id="studio-{name}-chart-empty">No data yet' in page
