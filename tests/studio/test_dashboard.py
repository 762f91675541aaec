"""The dashboard (admin index): charts and figures of the user's tenant only."""

from __future__ import annotations

import html
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
    return [json.loads(html.unescape(value)) for value in found]


def chart_configs(page: str) -> dict[str, tuple[dict, dict]]:
    """Each rendered chart's (data, options) as Chart.js receives them, by first dataset label."""
    found = re.findall(
        r'<canvas class="chart" data-options="([^"]+)"[^>]*data-value="([^"]+)"', page
    )
    configs = {}
    for options, data in found:
        data = json.loads(html.unescape(data))
        configs[data["datasets"][0]["label"]] = (data, json.loads(html.unescape(options)))
    return configs


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
    assert charts["AI cost"]["datasets"][0]["data"][-1] == 0.0125
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
    assert set(charts) == {"Runs started", "Success rate", "AI tokens", "AI cost"}
    assert visible_points(charts["Runs started"]) == [2]
    assert visible_points(charts["Success rate"]) == [50.0]
    assert visible_points(charts["AI tokens"]) == [60]
    assert visible_points(charts["AI cost"]) == [0.002]
    for label in ("Success rate", "AI cost"):
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
    assert charts["Success rate"]["datasets"][0]["data"][-1] == 0.0


def test_charts_without_data_say_no_data_yet_instead_of_an_empty_box(client):
    tenant = make_tenant("empty")
    client.force_login(studio_staff(tenant))
    page = client.get("/admin/").content.decode()
    assert chart_data(page) == []
    assert 'class="chart"' not in page
    for name in ("runs", "success", "tokens", "cost"):
        assert f'id="studio-{name}-chart-empty">No data yet' in page


def test_chart_axes_show_values_with_units_from_zero_and_days_without_data_are_gaps(client):
    """The newcomer saw no y values, 100 % drawn at mid-height, 60 % at the very bottom and a
    line drawn across 8 days without data: the value axis now shows its numbers and unit,
    starts at 0 (a rate ends at 100 %), and a day without a finished run is a gap."""
    tenant = make_tenant("axes")
    one_day_of_runs(tenant)
    client.force_login(studio_staff(tenant))
    page = client.get("/admin/").content.decode()
    configs = chart_configs(page)
    assert set(configs) == {"Runs started", "Success rate", "AI tokens", "AI cost"}
    for label, (_data, options) in configs.items():
        y = options["scales"]["y"]
        assert y["min"] == 0, label
        assert y["beginAtZero"] is True, label
        assert y["ticks"]["display"] is True, label
        assert y["title"]["display"] is True, label
        assert y["title"]["text"], label
        assert options["plugins"]["tooltip"]["enabled"] is True
    rate_data, rate = configs["Success rate"]
    assert rate["scales"]["y"]["max"] == 100
    # Chart.js formats ticks and the tooltip value with ticks.format: "50%", "$0.002".
    assert rate["scales"]["y"]["ticks"]["format"] == {
        "style": "unit", "unit": "percent", "maximumFractionDigits": 1
    }  # fmt: skip
    assert configs["AI cost"][1]["scales"]["y"]["ticks"]["format"]["currency"] == "USD"
    assert configs["Runs started"][1]["scales"]["y"]["ticks"]["precision"] == 0
    # 13 days without a finished run: undefined rates are null (gaps), never spanned.
    rates = rate_data["datasets"][0]["data"]
    assert rates[:-1] == [None] * 13
    assert rates[-1] == 50.0
    assert rate_data["datasets"][0]["spanGaps"] is False
    # Runs per day: a day without runs is a true 0, drawn as 0 (no stub bar).
    runs = configs["Runs started"][0]["datasets"][0]
    assert runs["data"][:-1] == [0] * 13
    assert "minBarLength" not in runs


def test_possible_duplicate_sends_are_counted_and_linked_for_my_tenant_only(client):
    mine, theirs = populate("Alpha"), populate("Zorro")
    for world, count in ((mine, 2), (theirs, 5)):
        enrollment = Enrollment.objects.get(workflow=world["workflow"])
        for _ in range(count):
            StepLog.objects.create(
                tenant=world["tenant"], workflow=world["workflow"], enrollment=enrollment,
                step_id="sms", step_type="send_sms", status=StepLog.Status.SUCCEEDED,
                started_at=timezone.now(), possible_duplicate=True,
            )  # fmt: skip
    client.force_login(studio_staff(mine["tenant"]))
    page = client.get("/admin/").content.decode()
    line = re.search(r'id="studio-possible-duplicates">(.*?)</p>', page, re.S).group(1)
    assert "2 possible duplicate sends" in line
    assert "possible_duplicate__exact=1" in line
    listed = client.get("/admin/workflows/steplog/?possible_duplicate__exact=1")
    assert listed.status_code == 200
    assert listed.content.decode().count("send_sms") >= 2
