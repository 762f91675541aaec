"""Test settings: the real settings with DEBUG on and fast password hashing."""

import os

os.environ.setdefault("DEBUG", "1")

from automation_studio.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = False
