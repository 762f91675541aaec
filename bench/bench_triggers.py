"""Trigger benchmark: the cost of listening on contact saves, and schedule bulk enrollment.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/bench_triggers.py

The database named in DATABASE_URL is dropped and created again. Tasks go to the broker in
CELERY_BROKER_URL when it is redis:// — give it a database of its own: nobody consumes the
tasks and its "celery" list is deleted at the end;
otherwise they are only counted, which measures the engine without a broker round trip.
Not a test: nothing here asserts time. Targets: saves < 20 % slower; schedule < 2x bulk_create.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepare_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench_triggers needs DATABASE_URL=postgres://…/<a database it may drop>")
    import psycopg

    name = urlparse(url).path.lstrip("/")
    admin = psycopg.connect(urlparse(url)._replace(path="/postgres").geturl(), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automation_studio.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_saves(n: int, workflows: int) -> tuple[float, float, int]:
    from django.test import override_settings

    from crm.models import Contact
    from engine.triggers import matching
    from tests.cast import make_published, make_tenant

    tenant = make_tenant("bench-saves")
    for i in range(workflows):
        make_published(
            tenant,
            {
                "name": f"Listener {i}",
                "trigger": {
                    "type": "contact_created",
                    "filters": [{"field": "tags", "operator": "contains", "value": f"t{i}"}],
                },
                "steps": [{"id": "nap", "type": "wait", "config": {"duration": "1d"}}],
            },
        )
    matching.invalidate()
    block = 500
    on = off = 0.0

    def save(prefix: str) -> None:
        for j in range(block):
            Contact.objects.create(tenant=tenant, first_name="B", email=f"{prefix}{j}@example.com")

    # Interleaved blocks, so drift (autovacuum, cache warmth) hits both sides alike.
    for b in range(n // block):
        with override_settings(STUDIO_TRIGGERS_ENABLED=False):
            off += timed(lambda b=b: save(f"off{b}-"))
        on += timed(lambda b=b: save(f"on{b}-"))
    return on, off, n


def bench_schedule(n: int, with_filter: bool) -> tuple[float, float]:
    from django.db import connection

    from crm.models import Contact
    from engine.triggers.schedule import schedule_run
    from tests.cast import make_published, make_tenant
    from workflows.models import Enrollment

    tenant = make_tenant(f"bench-schedule-{int(with_filter)}")
    Contact.objects.bulk_create(
        (Contact(tenant=tenant, email=f"s{i}@example.com", stage="lead") for i in range(n)),
        batch_size=5000,
    )
    filters = [{"field": "stage", "operator": "equals", "value": "lead"}] if with_filter else []
    scheduled = make_published(
        tenant,
        {
            "name": "Nightly",
            "trigger": {"type": "schedule", "config": {"cron": "0 2 * * *"}, "filters": filters},
            "steps": [{"id": "nap", "type": "wait", "config": {"duration": "1d"}}],
        },
    )
    plain = make_published(
        tenant,
        {
            "name": "Plain",
            "trigger": {"type": "manual"},
            "steps": [{"id": "nap", "type": "wait", "config": {"duration": "1d"}}],
        },
    )
    ids = list(Contact.objects.filter(tenant=tenant).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # both sides start from the same planner statistics

    def plain_insert() -> None:
        Enrollment.objects.bulk_create(
            (
                Enrollment(
                    tenant=tenant,
                    workflow=plain,
                    version=plain.published_version,
                    contact_id=c,
                    status="active",
                    current_step="nap",
                    context={"trigger": {}, "steps": {}},
                )
                for c in ids
            ),
            batch_size=2000,
        )

    baseline = timed(plain_insert)
    enrolled = []
    engine = timed(lambda: enrolled.append(schedule_run(workflow_id=scheduled.pk)))
    assert enrolled == [n], enrolled
    return engine, baseline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=10_000)
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--schedule", type=int, default=100_000)
    options = parser.parse_args()
    prepare_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from engine.runtime import queue

    call_command("migrate", verbosity=0)
    sent = []
    broker = settings.CELERY_BROKER_URL
    real = broker.startswith("redis://")
    context = queue.use_dispatcher(queue._send if real else lambda name, args: sent.append(name))
    with context:
        on, off, n = bench_saves(options.saves, options.workflows)
        print(
            f"| {n:,} contact saves, {options.workflows} workflows listening | {on:.2f} s | triggers off {off:.2f} s | overhead {100 * (on / off - 1):+.1f} % (target < 20 %) |"
        )
        for with_filter in (False, True):
            engine, baseline = bench_schedule(options.schedule, with_filter)
            label = "with a stage filter" if with_filter else "no filter"
            print(
                f"| schedule enrolls {options.schedule:,} contacts ({label}) | {engine:.2f} s | bulk_create {baseline:.2f} s | {engine / baseline:.2f}x (target < 2x) |"
            )
    print(
        f"broker: {'redis (real sends)' if real else 'none (tasks counted: ' + str(len(sent)) + ')'}"
    )


if __name__ == "__main__":
    main()
