"""The inbound webhook endpoint: a thin view over ``engine.triggers.webhooks``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from engine.triggers.webhooks import WebhookRejected, max_bytes, webhook_receive


@csrf_exempt
@require_POST
def webhook_receive_view(request: HttpRequest, token: str) -> JsonResponse:
    """POST /hooks/<token>/ → 202 with the contact, or a 4xx ``{"error": "..."}``."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    # Refuse before reading when the declared size is already too big.
    if length.isdigit() and int(length) > max_bytes():
        return JsonResponse({"error": f"body is larger than {max_bytes()} bytes"}, status=413)
    try:
        accepted = webhook_receive(
            token=token,
            body=request.body,
            headers=request.headers,
            content_type=request.content_type or "",
        )
    except WebhookRejected as exc:
        return JsonResponse({"error": exc.message}, status=exc.status)
    return JsonResponse(
        {
            "status": "accepted",
            "workflow_id": accepted.workflow_id,
            "contact_id": accepted.contact_id,
            "delivery_id": accepted.delivery_id,
            "created_contact": accepted.created_contact,
        },
        status=202,
    )
