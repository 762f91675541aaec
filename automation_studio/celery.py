import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automation_studio.settings")

app = Celery("automation_studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The engine keeps its tasks beside the layer they belong to, not in one engine/tasks.py.
app.autodiscover_tasks(["engine.runtime", "engine.triggers"])


@task_prerun.connect
@task_postrun.connect
def reuse_database_connections(sender=None, **kwargs) -> None:
    """Around each worker task, do what Django does around each request.

    ``close_old_connections`` closes a connection only when it is broken or older than
    ``CONN_MAX_AGE`` and arms the health check for its next use, so a worker keeps one
    session per thread or process instead of opening one per task (CELERY_DB_REUSE_MAX in
    settings stops Celery's fix-up from closing them all).
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()
