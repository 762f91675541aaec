"""Settings for bench_journeys: the product's settings plus the floor view and task.

The floor (``bench/floor.py``) is the least our own stack can do per request: a Django view
that inserts one row and enqueues one Celery task that inserts one row.
"""

from automation_studio.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STUDIO_CHANNEL_BACKENDS = {"default": "engine.effects.channels.locmem.LocMemBackend"}
