"""Email tracking endpoints: the open pixel, click redirects and the unsubscribe link."""

from __future__ import annotations

import base64

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from engine.triggers import api as tracking

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0"}
UNSUBSCRIBED_PAGE = (
    "<!doctype html><title>Unsubscribed</title><p>You will not receive these emails any more.</p>"
)


@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tracking.record_open(token=token)
    except tracking.InvalidToken:
        raise Http404("unknown tracking link") from None
    return HttpResponse(PIXEL, content_type="image/gif", headers=NO_STORE)


@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target = tracking.record_click(token=token)
    except tracking.InvalidToken:
        raise Http404("unknown tracking link") from None
    return HttpResponseRedirect(target, headers=NO_STORE)


# POST is RFC 8058 one-click unsubscribe from the mail client; it carries no CSRF token.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tracking.record_unsubscribe(token=token)
    except tracking.InvalidToken:
        raise Http404("unknown unsubscribe link") from None
    return HttpResponse(UNSUBSCRIBED_PAGE, headers=NO_STORE)
