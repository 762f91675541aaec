"""Email tracking endpoints: the open pixel, click redirects and the unsubscribe link.

Every fetch passes its method and User-Agent on, so scanners are told from people; the
unsubscribe link shows a confirmation page on GET and acts only on POST (RFC 8058).
"""

from __future__ import annotations

import base64
import html

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from engine.triggers import api as tracking

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0"}
CONFIRM_PAGE = (
    "<!doctype html><title>Unsubscribe</title>"
    "<p>Stop receiving these emails?</p>"
    '<form method="post" action="{action}"><button type="submit">Unsubscribe</button></form>'
)
UNSUBSCRIBED_PAGE = (
    "<!doctype html><title>Unsubscribed</title><p>You will not receive these emails any more.</p>"
)


def _hit(request: HttpRequest) -> tracking.Hit:
    return tracking.Hit(
        method=request.method or "GET", user_agent=request.headers.get("User-Agent", "")
    )


@require_safe
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tracking.record_open(token=token, hit=_hit(request))
    except tracking.InvalidToken:
        raise Http404("unknown tracking link") from None
    return HttpResponse(PIXEL, content_type="image/gif", headers=NO_STORE)


@require_safe
def click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target = tracking.record_click(token=token, hit=_hit(request))
    except tracking.InvalidToken:
        raise Http404("unknown tracking link") from None
    return HttpResponseRedirect(target, headers=NO_STORE)


# POST comes from the confirmation form or, as RFC 8058 one-click unsubscribe, from the mail
# client; neither carries a CSRF token (the signed link is the credential).
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "POST":
            tracking.record_unsubscribe(token=token)
            return HttpResponse(UNSUBSCRIBED_PAGE, headers=NO_STORE)
        tracking.check_unsubscribe(token=token)
    except tracking.InvalidToken:
        raise Http404("unknown unsubscribe link") from None
    page = CONFIRM_PAGE.format(action=html.escape(request.path))
    return HttpResponse(page, headers=NO_STORE)
