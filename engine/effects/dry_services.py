"""The dry-run twin of the live services: nothing is sent and nothing is written to the DB.

``DryRunServices(contact, now)`` offers ``outbound`` and ``crm`` with the same methods as the
live ones. Sends are recorded in ``outbox`` (rendered, headers redacted) and answered with
plausible fake results; CRM changes are applied to the ``contact`` dict (so later steps see
them) and listed in ``changes``.
"""

from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any

from engine.effects.ai_ops import DryRunAi
from engine.effects.contract import StepContext, StepFailed
from engine.effects.crm_ops import CUSTOM, clean_contact_fields, set_custom
from engine.effects.net.redact import display_url, redact_headers
from engine.effects.record_registry import RecordRefused, clean_record_fields, record_type

SIMULATED = "simulated"


class DryOutbound:
    def __init__(self) -> None:
        self.outbox: list[dict[str, Any]] = []
        self._ids = count(1)

    def _send(self, kind: str, step_id: str, **fields: Any) -> str:
        fake_id = f"dry-{kind}-{next(self._ids)}"
        self.outbox.append({"kind": kind, "step_id": step_id, "id": fake_id, **fields})
        return fake_id

    def send_message(
        self, *, ctx: StepContext, step_id: str, channel: str, to: str, body: str
    ) -> dict[str, Any]:
        fake_id = self._send("message", step_id, channel=channel, to=to, body=body)
        return {
            "message_id": fake_id,
            "status": SIMULATED,
            "provider": "dry-run",
            "record_id": None,
        }

    def place_call(
        self,
        *,
        ctx: StepContext,
        step_id: str,
        to: str,
        voicemail_url: str = "",
        voicemail_text: str = "",
        voicemail: str = "",
    ) -> dict[str, Any]:
        fake_id = self._send(
            "call",
            step_id,
            channel="voice",
            to=to,
            voicemail=voicemail,
            voicemail_url=voicemail_url,
            body=voicemail_text,
        )
        return {
            "call_id": fake_id,
            "message_id": fake_id,
            "status": SIMULATED,
            "provider": "dry-run",
            "record_id": None,
            "call_record_id": None,
        }

    def send_email(
        self, *, ctx: StepContext, step_id: str, to: str, subject: str, text: str, html: str = ""
    ) -> dict[str, Any]:
        fake_id = self._send(
            "email", step_id, channel="email", to=to, subject=subject, body=text, html=html
        )
        return {"message_id": fake_id, "status": SIMULATED, "record_id": None}

    def http_request(
        self,
        *,
        ctx: StepContext,
        step_id: str,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any,
        timeout: float,
    ) -> dict[str, Any]:
        self._send(
            "http",
            step_id,
            method=method,
            url=display_url(url),
            headers=redact_headers(headers),
            body=body,
        )
        return {"status": 200, "body": {"simulated": True}, "ok": True}


class DryCrm:
    def __init__(self, contact: dict[str, Any]) -> None:
        self.contact = contact
        self.changes: list[dict[str, Any]] = []
        self._ids = count(1)

    def _change(self, action: str, step_id: str, **fields: Any) -> None:
        self.changes.append({"action": action, "step_id": step_id, **fields})

    def add_tag(self, *, ctx: StepContext, step_id: str, tag: str) -> dict[str, Any]:
        tags = self.contact.setdefault("tags", [])
        added = tag not in tags
        if added:
            tags.append(tag)
            tags.sort()
        self._change("add_tag", step_id, tag=tag)
        return {"tag": tag, "added": added}

    def remove_tag(self, *, ctx: StepContext, step_id: str, tag: str) -> dict[str, Any]:
        tags = self.contact.setdefault("tags", [])
        removed = tag in tags
        if removed:
            tags.remove(tag)
        self._change("remove_tag", step_id, tag=tag)
        return {"tag": tag, "removed": removed}

    def _apply(self, fields: dict[str, Any], where: str, tenant_id: Any) -> list[str]:
        cleaned = clean_contact_fields(fields, where=where, tenant_id=tenant_id)
        for name, value in cleaned.items():
            if name.startswith(f"{CUSTOM}."):
                set_custom(self.contact.setdefault(CUSTOM, {}), name, value, where=where)
            elif name.endswith("_opt_out"):
                self.contact[name] = value
                self.contact.setdefault("opted_out", {})[name[: -len("_opt_out")]] = value
            else:
                self.contact[name] = value
        return sorted(cleaned)

    def update_contact(self, *, ctx: StepContext, step_id: str, fields: dict) -> dict[str, Any]:
        updated = self._apply(fields, "update_contact", ctx.tenant_id)
        self._change("update_contact", step_id, fields=dict(fields))
        return {"updated": updated}

    def create_task(
        self, *, ctx: StepContext, step_id: str, title: str, due_at: datetime, notes: str = ""
    ) -> dict[str, Any]:
        task_id = f"dry-task-{next(self._ids)}"
        self._change("create_task", step_id, title=title, due_at=due_at.isoformat(), notes=notes)
        return {"task_id": task_id, "title": title, "due_at": due_at.isoformat()}

    def create_lead(
        self, *, ctx: StepContext, step_id: str, name: str, email: str, phone: str, source: str
    ) -> dict[str, Any]:
        values = clean_contact_fields(
            {"email": email, "phone": phone, "source": source},
            where="create_lead",
            tenant_id=ctx.tenant_id,
        )
        mine = (email and email.lower() == str(self.contact.get("email", "")).lower()) or (
            values["phone"] and values["phone"] == self.contact.get("phone")
        )
        if mine:
            return {"lead_id": self.contact.get("id"), "created": False}
        self._change("create_lead", step_id, name=name, email=email, phone=phone, source=source)
        return {"lead_id": f"dry-lead-{next(self._ids)}", "created": True}

    def update_lead(
        self, *, ctx: StepContext, step_id: str, lead_id: Any, updates: dict
    ) -> dict[str, Any]:
        if str(lead_id) == str(self.contact.get("id")):
            updated = self._apply(updates, "update_lead", ctx.tenant_id)
        else:
            cleaned = clean_contact_fields(updates, where="update_lead", tenant_id=ctx.tenant_id)
            updated = sorted(cleaned)
        self._change("update_lead", step_id, lead_id=lead_id, updates=dict(updates))
        return {"lead_id": lead_id, "updated": updated}

    def _record_type(self, model: str, fields: dict):
        try:
            kind = record_type(model)
            clean_record_fields(kind, fields)
        except RecordRefused as exc:
            raise StepFailed(str(exc)) from None
        return kind

    def create_record(
        self, *, ctx: StepContext, step_id: str, model: str, fields: dict
    ) -> dict[str, Any]:
        kind = self._record_type(model, fields)
        self._change("create_record", step_id, model=kind.label, fields=dict(fields))
        return {"model": kind.label, "record_id": f"dry-record-{next(self._ids)}"}

    def update_record(
        self, *, ctx: StepContext, step_id: str, model: str, record_id: Any, fields: dict
    ) -> dict[str, Any]:
        kind = self._record_type(model, fields)
        self._change(
            "update_record", step_id, model=kind.label, record_id=record_id, fields=dict(fields)
        )
        return {"model": kind.label, "record_id": record_id, "updated": sorted(fields)}


class DryRunServices:
    """What handlers see in a dry-run: ``dry_run`` is True and nothing touches the world."""

    dry_run = True

    def __init__(self, contact: dict[str, Any], now: datetime) -> None:
        self.contact = contact
        self.now = now
        self.outbound = DryOutbound()
        self.crm = DryCrm(contact)
        self.ai = DryRunAi()  # the offline provider: a dry-run never pays for AI

    @property
    def outbox(self) -> list[dict[str, Any]]:
        return self.outbound.outbox

    @property
    def changes(self) -> list[dict[str, Any]]:
        return self.crm.changes
