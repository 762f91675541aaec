import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, task_postrun, task_prerun
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


class HousekeepingFilter(logging.Filter):
    """Drop the INFO lines of the periodic housekeeping tasks (beat sends the scheduler tick
    every 2 s and the sweeps every 5 s; the worker logs each received and succeeded): they
    buried everything else in the studio's console, about 2,000 lines in 20 minutes. Their
    warnings and errors, and every line of every other task, still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(name in message for name in _housekeeping_names())


def _housekeeping_names() -> tuple[str, ...]:
    from django.conf import settings

    schedule = settings.CELERY_BEAT_SCHEDULE
    frequent = [name for name, entry in schedule.items() if float(entry["schedule"]) < 60]
    return tuple(frequent) + tuple(schedule[name]["task"] for name in frequent)


@after_setup_logger.connect
def quiet_housekeeping(logger=None, **kwargs) -> None:
    """Installed on the worker's and beat's log handlers when Celery sets up logging."""
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(HousekeepingFilter())
