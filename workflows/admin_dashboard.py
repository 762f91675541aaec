"""The admin index as a dashboard (unfold's DASHBOARD_CALLBACK)."""

from __future__ import annotations


def dashboard_callback(request, context: dict) -> dict:
    """Add the dashboard's figures to the index page context (filled in by later work)."""
    return context
