"""A picture of a workflow drawn by the server as SVG (no JavaScript, no CDN).

Steps are boxes in their listed order; branches are labelled arrows (then/else, A/B variant
names and weights, goal met/timeout, on error); each box shows live counts (waiting at, done,
failed) and boxes on a dry-run path are highlighted.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from engine.definition import WorkflowDefinition, get_step_kind, parse_target, successor

BOX_W, BOX_H, GAP, LEFT, TOP, LANE = 320, 56, 44, 20, 16, 22
GOAL_LABELS = {"on_success": "goal met", "on_timeout": "timeout"}


def labelled_edges(defn: WorkflowDefinition) -> list[tuple[str, str, str]]:
    """(from step id, target, label) for every way out of every step, defaults filled in."""
    edges: list[tuple[str, str, str]] = []
    for step in defn.steps:
        kind = get_step_kind(step.type)
        if kind is not None and kind.ends:
            continue
        after = successor(defn, step.id)
        if step.type == "ab_split":
            for variant in step.config.variants:  # type: ignore[attr-defined]
                edges.append((step.id, variant.next or after, f"{variant.name} {variant.weight}%"))
        elif kind is not None and kind.branches:
            for name in step.config.target_fields:
                target = getattr(step.config, name, None) or after
                label = GOAL_LABELS.get(name, name.rstrip("_"))
                edges.append((step.id, target, label))
        else:
            for name, target in step.config.targets():
                edges.append((step.id, target, name))
            edges.append((step.id, after, ""))
        if step.on_error not in ("fail", "continue"):
            edges.append((step.id, step.on_error, "on error"))
    return edges


def draw(
    defn: WorkflowDefinition,
    *,
    counts: dict[str, dict[str, int]] | None = None,
    path: Iterable[str] = (),
) -> SafeString:
    """The SVG markup; ``counts`` step id → {waiting, done, failed}; ``path`` ids highlighted."""
    counts = counts or {}
    on_path = set(path)
    rows = {step.id: i for i, step in enumerate(defn.steps)}
    ends = _end_nodes(labelled_edges(defn), rows)
    for i, name in enumerate(ends, start=len(rows)):
        rows[name] = i
    height = TOP * 2 + len(rows) * (BOX_H + GAP)
    parts: list[str] = []
    for step in defn.steps:
        parts.append(
            _box(step.id, step.type, rows[step.id], counts.get(step.id), step.id in on_path)
        )
    for name in ends:
        parts.append(_terminal(name, rows[name]))
    lanes = 0
    for source, target, label in labelled_edges(defn):
        node = _node_of(target)
        if node not in rows:
            continue
        start, end = rows[source], rows[node]
        if end == start + 1 and not label:
            parts.append(_straight(start, end))
        else:
            lanes += 1
            parts.append(_routed(start, end, lanes, label or target))
    width = LEFT + BOX_W + LANE * (lanes + 2) + 120
    # Every text that came from the definition went through escape() above.
    return mark_safe(  # noqa: S308
        f'<div class="studio-graph"><svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="Workflow graph of {escape(defn.name)}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#64748b"/></marker></defs>' + "".join(parts) + "</svg></div>"
    )


def _node_of(target: str) -> str:
    kind, _ = parse_target(target)
    return target if kind == "step" else ("exit" if kind == "exit" else "end")


def _end_nodes(edges: list[tuple[str, str, str]], rows: dict[str, int]) -> list[str]:
    found = {_node_of(t) for _, t, _ in edges} - set(rows)
    return [name for name in ("end", "exit") if name in found]


def _top(row: int) -> int:
    return TOP + row * (BOX_H + GAP)


def _box(step_id: str, kind: str, row: int, count: dict | None, highlighted: bool) -> str:
    y = _top(row)
    count = count or {}
    figures = (
        f"waiting {count.get('waiting', 0)} · done {count.get('done', 0)}"
        f" · failed {count.get('failed', 0)}"
    )
    stroke = "#7c3aed" if highlighted else "#94a3b8"
    width = 3 if highlighted else 1.5
    fill = "#f5f3ff" if highlighted else "#ffffff"
    css = ' class="studio-on-path"' if highlighted else ""
    return (
        f'<g{css} data-step="{escape(step_id)}">'
        f'<rect x="{LEFT}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{width}"/>'
        f'<text x="{LEFT + 12}" y="{y + 22}" font-size="14" font-weight="600" fill="#0f172a">'
        f"{escape(step_id)}</text>"
        f'<text x="{LEFT + BOX_W - 12}" y="{y + 22}" font-size="12" text-anchor="end" '
        f'fill="#64748b">{escape(kind)}</text>'
        f'<text x="{LEFT + 12}" y="{y + 43}" font-size="12" fill="#475569">{figures}</text></g>'
    )


def _terminal(name: str, row: int) -> str:
    y = _top(row) + 8
    return (
        f'<g data-step="{name}"><rect x="{LEFT + BOX_W / 2 - 50}" y="{y}" width="100" '
        f'height="{BOX_H - 16}" rx="20" fill="#f1f5f9" stroke="#94a3b8"/>'
        f'<text x="{LEFT + BOX_W / 2}" y="{y + 25}" font-size="13" text-anchor="middle" '
        f'fill="#334155">{name}</text></g>'
    )


def _straight(start: int, end: int) -> str:
    x = LEFT + BOX_W / 2
    return (
        f'<line x1="{x}" y1="{_top(start) + BOX_H}" x2="{x}" y2="{_top(end) - 2}" '
        'stroke="#64748b" stroke-width="1.5" marker-end="url(#arrow)"/>'
    )


def _routed(start: int, end: int, lane: int, label: str) -> str:
    x0 = LEFT + BOX_W
    lane_x = x0 + LANE * lane
    y0, y1 = _top(start) + BOX_H / 2, _top(end) + BOX_H / 2
    mid = (y0 + y1) / 2
    return (
        f'<path d="M {x0} {y0} H {lane_x} V {y1} H {x0 + 2}" fill="none" stroke="#64748b" '
        'stroke-width="1.5" marker-end="url(#arrow)"/>'
        f'<text x="{lane_x + 4}" y="{mid}" font-size="11" fill="#7c3aed">{escape(label)}</text>'
    )
