"""The world as live steps see it; the dry-run passes a simulated twin with the same shape."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from engine.effects.ai_ops import LiveAi
from engine.effects.crm_ops import LiveCrm
from engine.effects.outbound import LiveOutbound


@dataclass
class LiveServices:
    tenant_id: int
    enrollment: Any = None
    dry_run: bool = False

    @cached_property
    def outbound(self) -> LiveOutbound:
        """Messages, calls, email and webhooks, each sent once per step execution."""
        return LiveOutbound(tenant_id=self.tenant_id, enrollment=self.enrollment)

    @cached_property
    def ai(self) -> LiveAi:
        """AI generation with the tenant's cost cap, paid once per step execution."""
        return LiveAi(tenant_id=self.tenant_id)

    @cached_property
    def crm(self) -> LiveCrm:
        """CRM writes: tags, contact fields, leads, tasks, registered records."""
        return LiveCrm(tenant_id=self.tenant_id, enrollment=self.enrollment)
