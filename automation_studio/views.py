"""The site root: a small landing page linking the admin studio and the API docs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse


def landing(request: HttpRequest) -> HttpResponse:
    """``/``: links to the studio (admin) and, when the API is installed, its documentation."""
    try:
        api_docs = reverse("api-docs")
    except NoReverseMatch:
        api_docs = None
    context = {"admin_url": reverse("admin:index"), "api_docs": api_docs}
    return render(request, "landing.html", context)
