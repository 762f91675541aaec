"""One webhook journey's parts, timed and profiled in one process (no web server, no worker).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/automation_studio_journeys \
    .venv/bin/python bench/profile_journey.py "Bench tag5" 300 [--profile [tottime]] \
        [--callers=<function>]

Reads the database ``bench_journeys.py`` leaves behind (its workflows "Bench pure5", "Bench
tag5", "Bench mix", "Bench one", "Bench tag40" and contacts C1…C10000). For N signed requests
it posts the webhook through Django's test client (DEBUG off) and then runs the tasks the
request queued, in this process; it prints wall and CPU time per request and per journey's
tasks (ms) — its own and that of the PostgreSQL backend serving it — and with ``--profile`` a cProfile of a second round by CPU time. Not a benchmark of
the deployment (no HTTP, no broker): a magnifying glass for where a journey's CPU goes.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault(
    "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/automation_studio_journeys"
)
os.environ.update(
    DEBUG="0",
    SECRET_KEY=os.environ.get("SECRET_KEY", "profile-journey"),
    ALLOWED_HOSTS="testserver",
    DJANGO_SETTINGS_MODULE="bench.settings",
    LOG_LEVEL="WARNING",
    STUDIO_TRIGGER_INDEX_SECONDS="300",
    CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13"),
)


def main() -> None:
    import django

    django.setup()
    from django.test import Client

    from automation_studio.celery import app
    from engine.runtime import queue
    from tests.triggers.test_webhooks import post  # the tests' signed POST
    from workflows.models import Workflow

    app.loader.import_default_modules()
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    name = args[0] if args else "Bench pure5"
    count = int(args[1]) if len(args) > 1 else 200
    workflow = Workflow.objects.get(name=name)
    client, held = Client(), []

    def request(i: int) -> None:
        payload = {"email": f"C{i}@Bench.Example", "source": "profile"}
        response = post(client, workflow, payload, delivery=uuid.uuid4().hex)
        if response.status_code != 202:
            sys.exit(f"the webhook answered {response.status_code}: {response.content!r}")

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    ticks = os.sysconf("SC_CLK_TCK")

    def backend_cpu() -> float:
        """CPU seconds the PostgreSQL backend serving this process has used (Linux /proc;
        whole clock ticks, so only a sum over many journeys means anything)."""
        with open(f"/proc/{backend}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    def round_of(offset: int, profile: cProfile.Profile | None = None) -> tuple[float, ...]:
        # request wall, cpu, PostgreSQL cpu; tasks wall, cpu, PostgreSQL cpu (seconds)
        spent = [0.0] * 6
        with queue.use_dispatcher(lambda task, task_args: held.append((task, task_args))):
            for i in range(count):
                for part, work in ((0, lambda i=i: request(offset + i)), (3, run_held)):
                    wall, cpu, db = time.perf_counter(), time.process_time(), backend_cpu()
                    if profile:
                        profile.enable()
                    work()
                    if profile:
                        profile.disable()
                    spent[part] += time.perf_counter() - wall
                    spent[part + 1] += time.process_time() - cpu
                    spent[part + 2] += backend_cpu() - db
        return tuple(value / count * 1000 for value in spent)

    def run_held() -> None:
        jobs = list(held)
        held.clear()
        for task, task_args in jobs:
            app.tasks[task].run(*task_args)

    round_of(1000)  # warm: caches, connections, the trigger index
    figures = round_of(2000)
    print(
        f"{name}: request wall {figures[0]:.2f} cpu {figures[1]:.2f} postgres {figures[2]:.2f} ms"
        f" | tasks wall {figures[3]:.2f} cpu {figures[4]:.2f} postgres {figures[5]:.2f} ms"
    )
    if "--profile" in sys.argv:
        profile = cProfile.Profile(time.process_time)
        round_of(4000, profile)
        order = "tottime" if "tottime" in sys.argv else "cumulative"
        stats = pstats.Stats(profile).sort_stats(order)
        stats.print_stats(40)
        for flag in [a for a in sys.argv if a.startswith("--callers=")]:
            stats.print_callers(flag.removeprefix("--callers="))


if __name__ == "__main__":
    main()
