"""Test settings: the real settings with DEBUG on and fast password hashing."""

import os

os.environ.setdefault("DEBUG", "1")

from automation_studio.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = False

# An end-to-end worker (tests/e2e_worker.py) keeps its Redis keys under a prefix of its own,
# so test runs sharing one Redis database never take (or flush) each other's tasks.
if os.environ.get("STUDIO_E2E_KEYPREFIX"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ["STUDIO_E2E_KEYPREFIX"]}
