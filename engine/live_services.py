"""The world as live steps see it; the dry-run passes a simulated twin with the same shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class LiveServices:
    tenant_id: int
    enrollment: Any = None
    dry_run: bool = False
