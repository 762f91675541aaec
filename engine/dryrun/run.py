"""Dry-run: play a workflow for a sample contact on a virtual clock, touching nothing.

The same stepping rules and handlers as live runs (engine.runtime.machine), with simulated services:
messages and webhooks are rendered but not sent, CRM changes apply to the sample contact
dict only, AI steps use the offline provider. Waits pass at once; injected events ("2 days
in, the contact gets tag X") happen at their virtual time, so goals, exit conditions and
behaviour branches can be tried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from engine.effects.dry_services import DryRunServices
from engine.effects.zones import workflow_zone
from engine.language.durations import parse_duration
from engine.language.templating import TemplateError, render_value
from engine.runtime.context import template_data
from engine.runtime.flow import Flow
from engine.runtime.machine import (
    ACTIVE,
    GOAL_TIMEOUT,
    RESUME,
    RETRY,
    WAITING,
    Directive,
    LogEntry,
    RunState,
    check_interrupts,
    ended_wait,
    execute,
    go_to,
    goal_timed_out,
)

MESSAGING_KINDS = {"send_sms", "send_whatsapp", "send_message", "send_email", "make_call"}
REPLY_EVENTS = {
    "message_received",
    "sms_received",
    "whatsapp_message",
    "email_received",
    "web_chat",
    "voice_call",
}


class DryRunError(ValueError):
    """Bad dry-run input (an event without a time, an unknown step in an event)."""


@dataclass
class Event:
    at: datetime
    type: str
    payload: dict[str, Any]


@dataclass
class DryRunReport:
    status: str
    exit_reason: str
    error: str
    path: list[str]
    steps: list[dict[str, Any]]
    events: list[dict[str, Any]]
    outbox: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    contact: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_reason": self.exit_reason,
            "error": self.error,
            "path": self.path,
            "steps": self.steps,
            "events": self.events,
            "outbox": self.outbox,
            "changes": self.changes,
        }


def parse_events(raw: list[Mapping[str, Any]], *, start: datetime) -> list[Event]:
    events = []
    for position, item in enumerate(raw or []):
        if not isinstance(item, Mapping) or "type" not in item:
            raise DryRunError(f"events[{position}]: needs a 'type' (and 'after', e.g. '2d')")
        try:
            after = parse_duration(item.get("after", 0))
        except ValueError as exc:
            raise DryRunError(f"events[{position}].after: {exc}") from None
        payload = {k: v for k, v in item.items() if k not in ("type", "after")}
        events.append(Event(at=start + after, type=str(item["type"]), payload=payload))
    return sorted(events, key=lambda e: e.at)


class Simulation:
    def __init__(
        self,
        *,
        definition: Mapping[str, Any],
        contact: dict[str, Any],
        trigger: dict[str, Any] | None,
        events: list[Event],
        seed: int | None,
        start: datetime,
        max_steps: int,
        tenant_id: int | None,
    ) -> None:
        self.tenant_id = tenant_id or 0  # assets (email templates, voicemails) are read from it
        self.flow = Flow.from_definition(definition)
        self.contact = _sample_contact(contact)
        self.clock = start
        self.start = start
        self.events = list(events)
        self.max_steps = max_steps
        context: dict[str, Any] = {"trigger": dict(trigger or {}), "steps": {}}
        context["seed"] = f"dry-{seed}" if seed is not None else "dry-run"
        self.run = RunState(
            status=ACTIVE, current_step="", context=context, visits={}, step_count=0
        )
        self.services = DryRunServices(contact=self.contact, now=start)
        self.steps: list[dict[str, Any]] = []
        self.applied: list[dict[str, Any]] = []

    def data(self) -> dict[str, Any]:
        return template_data(
            contact=self.contact,
            context=self.run.context,
            flow=self.flow,
            workflow_id=None,
            enrollment={
                "id": None,
                "enrolled_at": timezone.localtime(self.start).isoformat(),
                "seed": self.run.context.get("seed"),
            },
            now=self.clock,
        )

    def play(self) -> DryRunReport:
        """The whole simulation, in the workflow's time zone as a live run would be."""
        with timezone.override(workflow_zone(self.flow.settings, self.tenant_id)):
            return self._play()

    def _play(self) -> DryRunReport:
        directive = go_to(self.run, self.flow, self.flow.first_target, self.clock)
        for _ in range(self.max_steps):
            if directive.kind == "finish":
                break
            directive = self._next(directive)
            if directive is None:
                break
        else:
            self.run.status, self.run.error = "failed", f"stopped after {self.max_steps} steps"
        return self._report()

    def _next(self, directive: Directive) -> Directive | None:
        if directive.kind in ("schedule", "none"):
            due = directive.due_at if directive.kind == "schedule" else None
            interrupted = self._events_until(due)
            if interrupted is not None:
                return interrupted
            if due is None:
                return None  # waiting at a goal with no timeout, and no more events
            self.clock = max(self.clock, due)
            return self._fire(directive)
        return self._run_step(directive.step_id)

    def _events_until(self, due: datetime | None) -> Directive | None:
        while self.events and (due is None or self.events[0].at <= due):
            event = self.events.pop(0)
            self.clock = max(self.clock, event.at)
            self._apply(event)
            interrupted = check_interrupts(self.run, self.flow, self.data(), self.clock)
            if interrupted is not None:
                logs, directive = interrupted
                self._record(logs)
                return directive
        return None

    def _fire(self, directive: Directive) -> Directive:
        if directive.schedule_kind == GOAL_TIMEOUT:
            logs, follow = goal_timed_out(
                self.run, self.flow, directive.step_id, self.data(), self.clock
            )
            self._record(logs)
            return follow
        if directive.schedule_kind == RESUME:
            self._close_waits([])
            follow = go_to(self.run, self.flow, directive.step_id, self.clock)
            return follow
        attempt = 1
        if directive.schedule_kind == RETRY:
            attempt = int((self.run.context.get("retry") or {}).get("attempt", 2))
        return self._run_step(directive.step_id, attempt=attempt)

    def _run_step(self, step_id: str, *, attempt: int = 1) -> Directive:
        data = self.data()
        interrupted = check_interrupts(self.run, self.flow, data, self.clock)
        if interrupted is not None:
            logs, follow = interrupted
            self._record(logs)
            return follow
        step = self.flow.step(step_id)
        try:
            rendered = render_value(step.get("config") or {}, data)
        except TemplateError as exc:
            rendered = {"error": str(exc)}
        entry, follow = execute(
            self.run,
            self.flow,
            step_id,
            data=data,
            services=self.services,
            now=self.clock,
            tenant_id=self.tenant_id,
            enrollment_id=None,
            contact_id=self.contact.get("id"),
            attempt=attempt,
        )
        if entry.input is None:
            entry.input = rendered
        self._record([entry])
        return follow

    def _apply(self, event: Event) -> None:
        payload = event.payload
        kind = event.type
        if kind == "tag_added" and payload.get("tag"):
            if payload["tag"] not in self.contact["tags"]:
                self.contact["tags"].append(payload["tag"])
        elif kind == "tag_removed":
            self.contact["tags"] = [t for t in self.contact["tags"] if t != payload.get("tag")]
        elif kind == "contact_updated":
            for name, value in (payload.get("fields") or {}).items():
                if name.startswith("custom_fields."):
                    self.contact["custom_fields"][name.split(".", 1)[1]] = value
                else:
                    self.contact[name] = value
        elif kind in ("email_opened", "email_clicked"):
            step_id = payload.get("step")
            if not step_id or not self.flow.has_step(step_id):
                raise DryRunError(f"{kind} event needs 'step': the id of a send_email step")
            flag = "opened" if kind == "email_opened" else "clicked"
            self.run.steps.setdefault(step_id, {})[flag] = True
            if flag == "clicked":
                self.run.steps[step_id]["opened"] = True
        elif kind in REPLY_EVENTS:
            self._reply(payload)
        self.applied.append({"type": kind, "at": self.clock.isoformat(), **payload})

    def _reply(self, payload: dict[str, Any]) -> None:
        """An inbound message marks the latest send step (or ``step``) as replied."""
        step_id = payload.get("step")
        if step_id is None:
            sent = [s["id"] for s in self.steps if s["type"] in MESSAGING_KINDS]
            step_id = sent[-1] if sent else None
        if step_id is not None:
            self.run.steps.setdefault(step_id, {})["replied"] = True

    def _close_waits(self, decisions: list[LogEntry]) -> None:
        """The run moves on: its open waits end now, as the live executor ends them."""
        for step in self.steps:
            if step["status"] != WAITING:
                continue
            step["status"], step["output"], _ = ended_wait(
                step_id=step["id"],
                step_type=step["type"],
                output=step["output"],
                started_at=datetime.fromisoformat(step["at"]),
                now=self.clock,
                decisions=decisions,
            )

    def _record(self, logs: list[LogEntry]) -> None:
        self._close_waits(logs)
        for entry in logs:
            self.steps.append(
                {
                    "id": entry.step_id,
                    "type": entry.step_type,
                    "status": entry.status,
                    "at": entry.started_at.isoformat(),
                    "input": entry.input,
                    "output": entry.output,
                    "error": entry.error or None,
                    "next": entry.next_step or None,
                }
            )

    def _report(self) -> DryRunReport:
        status = self.run.status
        if status == ACTIVE:
            status = WAITING
        return DryRunReport(
            status=status,
            exit_reason=self.run.exit_reason,
            error=self.run.error,
            path=[s["id"] for s in self.steps],
            steps=self.steps,
            events=self.applied,
            outbox=list(getattr(self.services, "outbox", [])),
            changes=list(getattr(self.services, "changes", [])),
            contact=self.contact,
        )


def _sample_contact(contact: Mapping[str, Any]) -> dict[str, Any]:
    """Fill the fields a template may use, so a partial sample still renders."""
    sample = {
        "id": None,
        "first_name": "",
        "last_name": "",
        "email": "",
        "phone": "",
        "tags": [],
        "custom_fields": {},
        "stage": "lead",
        "source": "",
        "timezone": "",
        "opted_out": {"email": False, "sms": False, "whatsapp": False, "voice": False},
    }
    sample.update(contact)
    sample["tags"] = list(sample.get("tags") or [])
    sample["custom_fields"] = dict(sample.get("custom_fields") or {})
    sample.setdefault("full_name", f"{sample['first_name']} {sample['last_name']}".strip())
    return sample


def dry_run(
    *,
    definition: Mapping[str, Any],
    contact: Mapping[str, Any],
    trigger: dict[str, Any] | None = None,
    events: list[Mapping[str, Any]] | None = None,
    seed: int | None = None,
    start: datetime | None = None,
    max_steps: int = 1000,
    tenant_id: int | None = None,
) -> DryRunReport:
    """Simulate ``definition`` (a canonical dict) for ``contact`` and return what would happen."""
    start = start or datetime.now(tz=UTC).replace(microsecond=0)
    return Simulation(
        definition=definition,
        contact=dict(contact),
        trigger=trigger,
        events=parse_events(list(events or []), start=start),
        seed=seed,
        start=start,
        max_steps=max_steps,
        tenant_id=tenant_id,
    ).play()
