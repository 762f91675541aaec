"""The admin index as the studio dashboard (unfold's DASHBOARD_CALLBACK): charts of runs and
success rate per day, failures by workflow and step, waiting enrollments, A/B results with goal
conversion, AI tokens and cost, and the month's AI spend against the tenant's cap."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from crm.selectors import tenants_for_user

from . import dashboard
from .selectors import possible_duplicate_sends

PRIMARY, GREEN, RED, AMBER = "#9333ea", "#16a34a", "#dc2626", "#d97706"


# unfold's defaults draw lines without points (pointStyle false) and 4 px bars, so a series
# with one day of data drew nothing (a lone point has no segment to draw). Each dataset
# carries its own style, which Chart.js lets override the chart-wide defaults. Lines never
# span gaps: a day without a value (a success rate with no finished run) stays a gap instead
# of a straight line drawn across days that had no data.
LINE_STYLE = {"pointStyle": "circle", "pointRadius": 4, "pointHoverRadius": 6, "spanGaps": False}
BAR_STYLE = {"maxBarThickness": 24}

# Intl.NumberFormat options (Chart.js ``ticks.format``): Chart.js formats both the axis ticks
# and the tooltip value with them, so the unit shows in both places without JS callbacks
# (unfold's ``data-options`` is JSON, it cannot carry functions).
PERCENT = {"style": "unit", "unit": "percent", "maximumFractionDigits": 1}
USD = {
    "style": "currency",
    "currency": "USD",
    "minimumFractionDigits": 2,
    "maximumFractionDigits": 4,
}
COUNT = {"maximumFractionDigits": 0}


def _options(
    *, unit: str, number_format: dict, y_max: float | None = None, horizontal: bool = False
) -> str:
    """Chart.js options as JSON for unfold's ``options`` parameter, which replaces unfold's
    defaults wholesale; so this repeats their look (dashed grid, grey ticks, no legend) and
    adds what they lack: a value axis that shows its numbers, starts at 0 (``y_max`` pins its
    top, e.g. 100 for a rate in %), is titled with ``unit``, and formats ticks and tooltips
    with ``number_format``. ``horizontal`` lays bars along the x axis (long category names)."""
    grey = "#9ca3af"
    value_axis = {
        "beginAtZero": True,
        "min": 0,
        "border": {"dash": [5, 5], "width": 0},
        "grid": {"display": True, "tickWidth": 0},
        "title": {"display": True, "text": unit, "color": grey},
        "ticks": {"color": grey, "display": True, "format": number_format, "maxTicksLimit": 6},
    }
    if number_format is COUNT:
        value_axis["ticks"]["precision"] = 0  # no "1.5 runs" between whole counts
    if y_max is not None:
        value_axis["max"] = y_max
    category_axis = {
        "border": {"dash": [5, 5], "width": 0},
        "grid": {"display": True, "tickWidth": 0},
        "ticks": {"color": grey, "display": True},
    }
    options = {
        "animation": False,
        "responsive": True,
        "maintainAspectRatio": False,
        "barPercentage": 1,
        "grouped": False,
        "indexAxis": "y" if horizontal else "x",
        "datasets": {
            "bar": {"borderRadius": 12, "borderSkipped": "middle"},
            "line": {"borderWidth": 2, "pointBorderWidth": 0},
        },
        "interaction": {"mode": "index", "intersect": False},
        "plugins": {
            "legend": {
                "align": "end",
                "display": True,
                "position": "top",
                "labels": {"boxHeight": 5, "boxWidth": 5, "color": grey, "usePointStyle": True},
            },
            "tooltip": {"enabled": True},
        },
        "scales": {"x": value_axis, "y": category_axis}
        if horizontal
        else {"x": category_axis, "y": value_axis},
    }
    return json.dumps(options)


def _chart(
    labels: list, datasets: list[dict], *, kind: str = "bar", zero_is_data: bool = False
) -> str | None:
    """Chart.js data as JSON for unfold's chart components, or None when no dataset holds a
    value (None never counts; 0 only with ``zero_is_data``, e.g. a 0 % success rate): the page
    then says "no data yet" instead of an empty box. ``kind`` is "bar" or "line"; it picks the
    per-dataset style that keeps a single point visible. None values stay null: a gap."""
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
    # Calls re-sent after a worker died mid-call (engine/effects/idempotency.py): the
    # provider may have seen them twice; each links to its step log.
    duplicates = possible_duplicate_sends(
        tenant_ids={tenant.pk}, since=timezone.now() - timedelta(days=len(runs) or 14)
    )
    cap = spend["cap"]
    month = spend["month_cost"] or Decimal(0)
    context["studio_dashboard"] = {
        "tenant": tenant,
        "tenants": tenants,
        "runs_total": sum(r["runs"] for r in runs),
        "failed_total": sum(r["failed"] for r in runs),
        "waiting_total": sum(w["waiting"] for w in waiting),
        "possible_duplicates": duplicates["count"],
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
                    "label": "Success rate",
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
        "runs_options": _options(unit="runs per day", number_format=COUNT),
        "success_options": _options(unit="% of finished runs", number_format=PERCENT, y_max=100),
        "failures_options": _options(unit="failed step runs", number_format=COUNT, horizontal=True),
        "tokens_options": _options(unit="tokens per day", number_format=COUNT),
        "cost_options": _options(unit="USD per day", number_format=USD),
        "cost_chart": _chart(
            days,
            [
                {
                    "label": "AI cost",
                    "data": [float(d["cost"]) for d in spend["by_day"]],
                    "borderColor": PRIMARY,
                    "backgroundColor": PRIMARY,
                }
            ],
            kind="line",
        ),
    }
    return context
