"""The site root: a small landing page linking the admin studio and the API docs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse


def landing(request: HttpRequest) -> HttpResponse:
    """``/``: links to the studio (admin) and, when the API is installed, its documentation."""
    try:
        api_docs = reverse("api-docs")
    except NoReverseMatch:
        api_docs = None
    context = {"admin_url": reverse("admin:index"), "api_docs": api_docs}
    return render(request, "landing.html", context)


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``: browsers ask for it on pages without an icon link (the API's); a
    permanent redirect to the studio's icon in the static files instead of a 404."""
    return HttpResponsePermanentRedirect(static("studio/favicon.svg"))
