"""The inbound webhook endpoint: a thin view over ``engine.triggers.webhooks``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from engine.triggers.webhooks import WebhookRejected, max_bytes, webhook_receive


@csrf_exempt
def webhook_receive_view(request: HttpRequest, token: str) -> JsonResponse:
    """POST /hooks/<token>/ → 202 with the contact, or a 4xx ``WebhookRejected.body()``
    (``{"code", "message", "details", "error"}``)."""
    if request.method != "POST":
        refused = WebhookRejected(405, f"{request.method} is not allowed here: POST the JSON body")
        answer = JsonResponse(refused.body(), status=refused.status)
        answer["Allow"] = "POST"
        return answer
    length = request.META.get("CONTENT_LENGTH") or "0"
    # Refuse before reading when the declared size is already too big.
    if length.isdigit() and int(length) > max_bytes():
        too_big = WebhookRejected(413, f"body is larger than {max_bytes()} bytes")
        return JsonResponse(too_big.body(), status=too_big.status)
    try:
        accepted = webhook_receive(
            token=token,
            body=request.body,
            headers=request.headers,
            content_type=request.content_type or "",
        )
    except WebhookRejected as exc:
        return JsonResponse(exc.body(), status=exc.status)
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
