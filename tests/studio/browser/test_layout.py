"""The studio's pages at 1400×900 as a newcomer saw them: the workflow page's header holds its
buttons, every form control has unfold's border, the dry-run result does not spill sideways,
the import page takes a file without a script error, and the dashboard's value axes show
their numbers and units. Screenshots under var/screenshots/<test>/."""

from __future__ import annotations

import pytest

from workflows.models import Workflow

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1400, 900

# The header bar and every link or button in it (unfold's breadcrumb row and tab actions).
HEADER_BOX = """() => {
  const history = [...document.querySelectorAll('a')].find(a => /History$/.test(a.textContent.trim()));
  let bar = history;
  while (bar && !(bar.classList && bar.classList.contains('h-16'))) { bar = bar.parentElement; }
  const box = bar.getBoundingClientRect();
  const items = [...bar.querySelectorAll('a, button')]
    .filter(el => el.offsetParent !== null)
    .map(el => { const r = el.getBoundingClientRect();
                 return {text: el.textContent.trim().replace(/\\s+/g, ' '), top: r.top,
                         bottom: r.bottom, left: r.left, right: r.right, height: r.height}; });
  return {box: {top: box.top, bottom: box.bottom, left: box.left, right: box.right}, items};
}"""

BORDER = """(el) => { const s = getComputedStyle(el);
  return {width: parseFloat(s.borderTopWidth), style: s.borderTopStyle, color: s.borderTopColor,
          padding: parseFloat(s.paddingLeft)}; }"""


def assert_bordered(locator, what: str) -> None:
    assert locator.count() > 0, what
    for i in range(locator.count()):
        element = locator.nth(i)
        if not element.is_visible():
            continue
        border = element.evaluate(BORDER)
        assert border["width"] >= 1, (what, i, border)
        assert border["style"] != "none", (what, i, border)
        assert border["color"] not in ("rgba(0, 0, 0, 0)", "transparent"), (what, i, border)
        assert border["padding"] >= 4, (what, i, border)


def no_sideways_scroll(page) -> None:
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth})"
    )
    assert widths["doc"] <= widths["view"], widths


def test_workflow_page_test_form_import_and_dashboard_fit_at_1400(studio, demo):
    page = studio.page
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    workflow = Workflow.objects.filter(tenant=demo, status=Workflow.Status.DRAFT).first()
    if workflow is None:  # the demo's drafts may all be published: any will do, by status
        workflow = Workflow.objects.filter(tenant=demo).order_by("name").first()
    studio.goto(f"/admin/workflows/workflow/{workflow.pk}/change/", "workflow-page")

    header = page.evaluate(HEADER_BOX)
    box = header["box"]
    # Drop the icon ligature text ("history History" → "History").
    texts = [
        item["text"].split(" ")[-1]
        if item["text"].startswith(("history ", "arrow_back"))
        else item["text"]
        for item in header["items"]
    ]
    assert "History" in texts
    for item in header["items"]:
        assert item["top"] >= box["top"] - 1, (item, box)
        assert item["bottom"] <= box["bottom"] + 1, (item, box)
        assert item["right"] <= box["right"] + 1, (item, box)
        assert item["height"] <= 44, ("wraps onto several lines", item)
    # Only the status actions that apply (a draft is never paused or resumed).
    if workflow.status == Workflow.Status.DRAFT:
        assert "Pause" not in texts
        assert "Resume" not in texts
        assert "Publish" in texts
    # The page's tools moved into the body; none of them wraps.
    for link in page.locator("#studio-tools a").all():
        assert link.bounding_box()["height"] <= 44, link.inner_text()

    assert_bordered(page.locator("select[name$='-type']:not([name*='__prefix__'])"), "Kind")
    assert_bordered(page.locator("input[name$='-next_step']:not([name*='__prefix__'])"), "Next")
    assert_bordered(page.locator("input[name$='-on_error']:not([name*='__prefix__'])"), "Error")
    studio.shot("workflow-steps")
    no_sideways_scroll(page)
    # "Add another" gives the new step the next order (it came with 0) and unfold's controls.
    orders = [
        int(v)
        for v in page.eval_on_selector_all(
            "input[name$='-order']:not([name*='__prefix__'])", "els => els.map(e => e.value)"
        )
    ]
    page.get_by_text("Add another Workflow step").click()
    added = page.locator("input[name$='-order']:not([name*='__prefix__'])").last
    assert added.input_value() == str(max(orders) + 1)
    assert_bordered(page.locator("select[name$='-type']:not([name*='__prefix__'])").last, "new")
    studio.shot("step-added")

    studio.goto(f"/admin/workflows/workflow/{workflow.pk}/test/", "test-form")
    assert_bordered(page.locator("#studio-test-form textarea"), "dry-run text areas")
    assert_bordered(page.locator("#studio-test-form select"), "dry-run selects")
    for area in page.locator("#studio-test-form textarea").all():
        inner = area.bounding_box()
        card = page.locator("#studio-test-form").bounding_box()
        assert inner["x"] + inner["width"] <= card["x"] + card["width"] + 1
    page.click("#studio-test-form button[type=submit]")
    studio.shot("test-result")
    assert page.locator("#studio-test-result").count() == 1
    no_sideways_scroll(page)

    studio.goto("/admin/workflows/workflow/import/", "import-form")
    assert_bordered(page.locator("textarea[name=text]"), "paste area")
    page.set_input_files(
        "input[type=file][name=file]",
        files=[{"name": "flow.yaml", "mimeType": "text/yaml", "buffer": b"name: x\n"}],
    )
    studio.shot("import-file-chosen")
    assert page.locator("input[type=text][disabled]").first.input_value() == "flow.yaml"

    studio.goto("/admin/", "dashboard")
    ticks = page.evaluate(
        """() => [...document.querySelectorAll('#studio-dashboard canvas.chart')].map(c => {
             const chart = Chart.getChart(c); const y = chart.scales.y;
             return {label: chart.data.datasets[0].label, min: y.min, max: y.max,
                     ticks: y.ticks.map(t => t.label), title: y.options.title.text,
                     spanGaps: chart.data.datasets[0].spanGaps}; })"""
    )
    assert ticks, "no chart drawn on the dashboard"
    for chart in ticks:
        assert chart["min"] == 0, chart
        assert len(chart["ticks"]) >= 2, chart
        assert chart["title"], chart
    by_label = {chart["label"]: chart for chart in ticks}
    if "Success rate" in by_label:
        rate = by_label["Success rate"]
        assert rate["max"] == 100
        assert rate["ticks"][-1] == "100%"
        assert rate["spanGaps"] is False
    assert errors == []
