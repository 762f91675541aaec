"""Warnings about a definition's shape: unreachable steps, loops, branches falling into others.

A loop is warned when nothing on it pauses (no wait, delay or goal: it spins at once) or when it
has no way out (only a goal jump, an exit condition or max_step_visits ends it). A loop that
pauses and can leave, such as a retry loop, is not warned.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from engine.definition.navigation import outcomes, parse_target, step_graph
from engine.definition.problems import Problem, Severity
from engine.definition.registry import get_step_kind
from engine.definition.schema import WorkflowDefinition

PAUSING_KINDS = ("wait", "goal")


def graph_warnings(defn: WorkflowDefinition) -> list[Problem]:
    """Unreachable steps, suspicious loops and branch targets falling into another branch."""
    graph = step_graph(defn)
    index = {step.id: i for i, step in reversed(list(enumerate(defn.steps)))}
    cycles = strongly_connected(graph)
    cycle_of = {node: i for i, group in enumerate(cycles) for node in group}
    found: list[Problem] = []

    def warn(path: str, message: str) -> None:
        found.append(Problem(path, message, defn.lines.line_for(path), Severity.WARNING))

    reachable = _reachable(graph, _entry_points(defn))
    for i, step in enumerate(defn.steps):
        if step.id not in reachable:
            warn(f"steps[{i}]", f"step '{step.id}' is unreachable: no step leads to it")

    for group in cycles:
        _loop_warning(defn, graph, group, index, warn)

    for b, step in enumerate(defn.steps):
        kind = get_step_kind(step.type)
        if kind is None or not kind.branches:
            continue
        slots = [(path, t) for path, t in step.config.targets() if t in index]
        for path, target in slots:
            others = {t: p for p, t in slots if t != target}
            landing = _falls_into(defn, index, target, others)
            same_loop = landing and cycle_of.get(landing, -1) == cycle_of.get(target, -2)
            if landing and not same_loop:
                warn(
                    f"steps[{b}].config.{path}",
                    f"branch target '{target}' falls through into '{landing}', the "
                    f"{others[landing]} target; give '{target}' a next (e.g. end) to keep the "
                    "branches apart",
                )
    return found


def reaches(defn: WorkflowDefinition, start: str, goal: str) -> bool:
    """True when some path of steps leads from ``start`` to ``goal``."""
    return goal in _reachable(step_graph(defn), [start], include_start=False)


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """The graph's cycles: strongly connected groups of 2+ steps, or a step that targets itself."""
    order: list[str] = []
    seen: set[str] = set()
    for root in graph:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(graph[root]))]
        while stack:
            node, edges = stack[-1]
            nxt = next((n for n in edges if n not in seen), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(nxt)
                stack.append((nxt, iter(graph[nxt])))
    reverse: dict[str, list[str]] = {node: [] for node in graph}
    for node, targets in graph.items():
        for target in targets:
            reverse[target].append(node)
    assigned: set[str] = set()
    groups: list[list[str]] = []
    for root in reversed(order):
        if root in assigned:
            continue
        group = sorted(_reachable(reverse, [root], exclude=assigned))
        assigned.update(group)
        if len(group) > 1 or root in graph[root]:
            groups.append(group)
    return groups


def _entry_points(defn: WorkflowDefinition) -> list[str]:
    # Goals are entered by jumping when met, from anywhere in the workflow.
    goals = [step.id for step in defn.steps if step.type == "goal"]
    return [defn.steps[0].id, *goals]


def _reachable(
    graph: dict[str, list[str]],
    starts: list[str],
    *,
    include_start: bool = True,
    exclude: set[str] | None = None,
) -> set[str]:
    exclude = exclude or set()
    found: set[str] = set(starts) if include_start else set()
    queue = deque(starts)
    while queue:
        for target in graph.get(queue.popleft(), []):
            if target not in found and target not in exclude:
                found.add(target)
                queue.append(target)
    return found


def _loop_warning(
    defn: WorkflowDefinition,
    graph: dict[str, list[str]],
    group: list[str],
    index: dict[str, int],
    warn: Callable[[str, str], None],
) -> None:
    members = set(group)
    steps = [defn.steps[index[node]] for node in group]
    first = min(group, key=index.__getitem__)
    cycle = " → ".join([*_cycle_through(graph, first, members), first])
    pauses = any(s.type in PAUSING_KINDS or s.delay for s in steps)
    leaves = any(
        parse_target(t)[0] != "step" or t not in members for s in steps for t in outcomes(defn, s)
    )
    limit = defn.settings.max_step_visits
    path = f"steps[{index[first]}]"
    if not pauses:
        warn(
            path,
            f"loop {cycle} has no wait, delay or goal: it repeats at once until "
            f"max_step_visits ({limit}) fails the enrollment",
        )
    elif not leaves:
        warn(
            path,
            f"loop {cycle} has no way out: only a goal, an exit condition or "
            f"max_step_visits ({limit}) ends it",
        )


def _cycle_through(graph: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    """The shortest path of steps from ``start`` back to itself, without the closing step."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in graph[node]:
            if target not in members:
                continue
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return list(reversed(path))
            if target not in previous:
                previous[target] = node
                queue.append(target)
    return [start]  # pragma: no cover - members of a cycle always lead back


def _falls_into(
    defn: WorkflowDefinition, index: dict[str, int], target: str, others: dict[str, str]
) -> str | None:
    """The other branch target that ``target`` reaches by plain fall-through, if any."""
    position = index[target]
    while True:
        step = defn.steps[position]
        kind = get_step_kind(step.type)
        if step.next or (kind is not None and (kind.branches or kind.ends)):
            return None
        position += 1
        if position >= len(defn.steps):
            return None
        if defn.steps[position].id in others:
            return defn.steps[position].id
