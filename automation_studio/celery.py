import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automation_studio.settings")

app = Celery("automation_studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The engine keeps its tasks beside the layer they belong to, not in one engine/tasks.py.
app.autodiscover_tasks(["engine.runtime", "engine.triggers"])
