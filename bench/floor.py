"""The floor of our own stack: one row written by a view, one row written by a Celery task.

Tables are made by bench_journeys (raw SQL, no migration): ``bench_floor_request`` (one row per
request, with the client's delivery id) and ``bench_floor_done`` (one row per finished task).
"""

from __future__ import annotations

from celery import shared_task
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

FLOOR_TASK = "bench.floor_done"


@csrf_exempt
def floor_view(request: HttpRequest) -> JsonResponse:
    delivery = request.headers.get("X-Studio-Delivery", "")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor_request (delivery_id, body) VALUES (%s, %s) RETURNING id",
            [delivery, request.body.decode()],
        )
        (row_id,) = cursor.fetchone()
    floor_done.delay(row_id)
    return JsonResponse({"status": "accepted", "id": row_id}, status=202)


@shared_task(name=FLOOR_TASK, ignore_result=True)
def floor_done(request_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_floor_done (request_id, done_at) VALUES (%s, clock_timestamp())",
            [request_id],
        )
