"""Signals the workflows app sends; receivers (trigger caches, schedules) live elsewhere."""

from django.dispatch import Signal

# Sent after commit when a workflow is published, paused, resumed or archived.
workflow_changed = Signal()
