"""The admin index as the studio dashboard (unfold's DASHBOARD_CALLBACK): charts of runs and
success rate per day, failures by workflow and step, waiting enrollments, A/B results with goal
conversion, AI tokens and cost, and the month's AI spend against the tenant's cap."""

from __future__ import annotations

import json
from decimal import Decimal

from crm.selectors import tenants_for_user

from . import dashboard

PRIMARY, GREEN, RED, AMBER = "#9333ea", "#16a34a", "#dc2626", "#d97706"


# unfold's defaults draw lines without points (pointStyle false) and 4 px bars, so a series
# with one day of data drew nothing (a lone point has no segment to draw). Each dataset
# carries its own style, which Chart.js lets override the chart-wide defaults.
LINE_STYLE = {"pointStyle": "circle", "pointRadius": 4, "pointHoverRadius": 6, "spanGaps": True}
BAR_STYLE = {"maxBarThickness": 24, "minBarLength": 2}


def _chart(
    labels: list, datasets: list[dict], *, kind: str = "bar", zero_is_data: bool = False
) -> str | None:
    """Chart.js data as JSON for unfold's chart components, or None when no dataset holds a
    value (None never counts; 0 only with ``zero_is_data``, e.g. a 0 % success rate): the page
    then says "no data yet" instead of an empty box. ``kind`` is "bar" or "line"; it picks the
    per-dataset style that keeps a single point visible."""
    values = [value for dataset in datasets for value in dataset["data"] if value is not None]
    if not any(values) and not (zero_is_data and values):
        return None
    style = LINE_STYLE if kind == "line" else BAR_STYLE
    datasets = [{**style, **dataset} for dataset in datasets]
    return json.dumps({"labels": labels, "datasets": datasets}, default=str, ensure_ascii=False)


def dashboard_callback(request, context: dict) -> dict:
    """Add ``studio_dashboard`` (figures and Chart.js data) for the chosen tenant."""
    tenants = list(tenants_for_user(user=request.user).order_by("name"))
    if not tenants:
        return context
    wanted = request.GET.get("tenant")
    tenant = next((t for t in tenants if str(t.pk) == wanted), tenants[0])
    runs = dashboard.runs_per_day(tenant=tenant)
    spend = dashboard.ai_spend(tenant=tenant)
    failures = dashboard.failures_by_step(tenant=tenant)
    waiting = dashboard.waiting_by_workflow(tenant=tenant)
    days = [row["day"].strftime("%d %b") for row in runs]
    cap = spend["cap"]
    month = spend["month_cost"] or Decimal(0)
    context["studio_dashboard"] = {
        "tenant": tenant,
        "tenants": tenants,
        "runs_total": sum(r["runs"] for r in runs),
        "failed_total": sum(r["failed"] for r in runs),
        "waiting_total": sum(w["waiting"] for w in waiting),
        "waiting": waiting,
        "failures": failures,
        "ab": dashboard.ab_results(tenant=tenant),
        "by_workflow": spend["by_workflow"],
        "by_prompt": spend["by_prompt"],
        "month_cost": month,
        "cap": cap,
        "cap_percent": min(100, int(month / cap * 100)) if cap else None,
        "runs_chart": _chart(
            days,
            [
                {
                    "label": "Runs started",
                    "data": [r["runs"] for r in runs],
                    "backgroundColor": PRIMARY,
                },
                {"label": "Failed", "data": [r["failed"] for r in runs], "backgroundColor": RED},
            ],
        ),
        "success_chart": _chart(
            days,
            [
                {
                    "label": "Success rate (%)",
                    "data": [
                        None if r["success_rate"] is None else round(r["success_rate"] * 100, 1)
                        for r in runs
                    ],
                    "borderColor": GREEN,
                    "backgroundColor": GREEN,
                }
            ],
            kind="line",
            zero_is_data=True,
        ),
        "failures_chart": _chart(
            [f"{f['workflow__name']} · {f['step_id']}" for f in failures],
            [
                {
                    "label": "Failed runs",
                    "data": [f["failures"] for f in failures],
                    "backgroundColor": RED,
                }
            ],
        ),
        "tokens_chart": _chart(
            days,
            [
                {
                    "label": "AI tokens",
                    "data": [d["tokens"] for d in spend["by_day"]],
                    "backgroundColor": AMBER,
                }
            ],
        ),
        "cost_chart": _chart(
            days,
            [
                {
                    "label": "AI cost (USD)",
                    "data": [float(d["cost"]) for d in spend["by_day"]],
                    "borderColor": PRIMARY,
                    "backgroundColor": PRIMARY,
                }
            ],
            kind="line",
        ),
    }
    return context
