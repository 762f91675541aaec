"""Engine benchmark: throughput, per-step overhead, claim rate and lateness, each against a baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \
    .venv/bin/python bench/bench_engine.py [--enrollments 10000] [--quick]

It creates (and drops) a database of its own, starts one Celery worker process, and prints a
Markdown table of ratios; results go in bench/README.md. Not a test: nothing here asserts time.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "automation_studio_bench"


def prepare_environment() -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    if not base.startswith("postgres") or not broker.startswith("redis"):
        sys.exit("bench_engine needs DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://…")
    import psycopg

    admin = psycopg.connect(base, autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {BENCH_DB}")
    admin.close()
    url = urlparse(base)._replace(path=f"/{BENCH_DB}").geturl()
    os.environ.update(
        DATABASE_URL=url,
        CELERY_BROKER_URL=broker,
        BENCH_REDIS_URL=broker,
        DEBUG="0",  # as in production (DEBUG keeps and times every query)
        SECRET_KEY=f"bench-{os.getpid()}-{time.time()}",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="automation_studio.settings",
        LOG_LEVEL="WARNING",
    )
    return url, broker


def start_worker(concurrency: int) -> subprocess.Popen:
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "automation_studio",
            "worker",
            "-P",
            "threads",
            "-c",
            str(concurrency),
            "-l",
            "WARNING",
            "-I",
            "bench.bench_tasks",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    time.sleep(4)
    return worker


def instant_flow(name: str, steps: int, kind: str = "condition") -> dict:
    """``steps`` instant steps: pure branches (run back to back in one task), or ``add_tag``
    steps, side effects that each take a task of their own."""

    def step(i: int) -> dict:
        if kind == "condition":
            return {"id": f"s{i}", "type": "condition", "config": {"if": [], "then": f"s{i + 1}"}}
        return {"id": f"s{i}", "type": "add_tag", "config": {"tag": f"t{i}"}}

    chain = [step(i) for i in range(steps - 1)]
    chain.append({"id": f"s{steps - 1}", "type": "exit", "config": {"reason": "done"}})
    return {"name": name, "trigger": {"type": "manual"}, "steps": chain}


def enroll_quietly(workflow, contacts) -> list[list]:
    """Create enrollments, holding back their first step so timing starts when we release them."""
    from engine.runtime import queue
    from engine.runtime.enrollment import enrollment_create

    held: list[list] = []
    with queue.use_dispatcher(lambda name, args: held.append(args)):
        for contact in contacts:
            enrollment_create(workflow=workflow, contact=contact)
    return held


def wait_until(done, timeout: float) -> float:
    start = time.perf_counter()
    while not done():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("benchmark did not finish in time")
        time.sleep(0.2)
    return time.perf_counter() - start


def bench_throughput(tenant, enrollments: int, kind: str) -> dict:
    import redis

    from bench.bench_tasks import COUNTER, noop_chain
    from crm.models import Contact
    from engine.runtime import queue
    from tests.cast import make_published
    from workflows.models import Enrollment

    r = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    r.delete(COUNTER)
    # The bare chain runs in the same measurement so the ratio holds on a noisy machine.
    start = time.perf_counter()
    for _ in range(enrollments):
        noop_chain.delay(5)
    bare = time.perf_counter() - start
    bare += wait_until(lambda: int(r.get(COUNTER) or 0) >= enrollments, 900)

    contacts = Contact.objects.bulk_create(
        Contact(tenant=tenant, first_name=f"B{i}", email=f"b{i}@example.com")
        for i in range(enrollments)
    )
    workflow = make_published(tenant, instant_flow(f"Five {kind} steps", 5, kind))
    held = enroll_quietly(workflow, contacts)
    start = time.perf_counter()
    for args in held:
        queue.dispatch(queue.RUN_STEP, args)
    engine = time.perf_counter() - start
    engine += wait_until(
        lambda: (
            not Enrollment.objects.filter(
                workflow=workflow, status__in=["active", "waiting"]
            ).exists()
        ),
        1800,
    )
    steps = enrollments * 5
    return {
        "bare_steps_per_s": steps / bare,
        "engine_steps_per_s": steps / engine,
        "ratio": bare / engine,
    }


def bench_step_overhead(tenant, chains: int = 5) -> dict:
    """40-step chains of side-effect steps, one chain at a time: the gap between two steps'
    starts is the engine's per-step cost (a task goes on to the next step itself)."""
    from crm.models import Contact
    from engine.runtime import queue
    from tests.cast import make_published
    from workflows.models import Enrollment, StepLog

    workflow = make_published(tenant, instant_flow("Forty tag steps", 40, "add_tag"))
    for i in range(chains):
        contact = Contact.objects.create(tenant=tenant, first_name=f"C{i}")
        (args,) = enroll_quietly(workflow, [contact])
        queue.dispatch(queue.RUN_STEP, args)
        wait_until(
            lambda: not Enrollment.objects.filter(workflow=workflow, status="active").exists(),
            600,
        )
    gaps = []
    for enrollment in Enrollment.objects.filter(workflow=workflow):
        times = list(
            StepLog.objects.filter(enrollment=enrollment)
            .order_by("started_at")
            .values_list("started_at", flat=True)
        )
        gaps += [(b - a) / timedelta(milliseconds=1) for a, b in itertools.pairwise(times)]
    durations = list(
        StepLog.objects.filter(workflow=workflow).values_list("duration_ms", flat=True)
    )
    return {
        "step_to_step_p50_ms": statistics.median(gaps),
        "step_to_step_p99_ms": statistics.quantiles(gaps, n=100)[98],
        "handler_p50_ms": statistics.median(durations),
    }


def count_queries_per_step(tenant, kind: str) -> float:
    """Statements per step (BEGIN/COMMIT aside) of one task running a 3-step chain of ``kind``
    (a task now goes on from step to step), on warm caches: the second enrollment counts."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.models import Contact
    from engine.runtime import executor, queue
    from tests.cast import make_published
    from workflows.models import StepLog

    workflow = make_published(tenant, instant_flow(f"Counted {kind}", 3, kind))
    for n in range(2):
        contact = Contact.objects.create(tenant=tenant, first_name=f"Q{n}")
        (first,) = enroll_quietly(workflow, [contact])
        with (
            queue.use_dispatcher(lambda name, args: None),
            CaptureQueriesContext(connection) as ctx,
        ):
            executor.step_run(enrollment_id=first[0], step_id=first[1], seq=first[2])
    steps = StepLog.objects.filter(enrollment_id=first[0]).count()
    sql = [q["sql"] for q in ctx.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    return round(len(sql) / steps, 1)


def bench_claims(tenant, due: int, future: int) -> dict:
    from django.db import connection

    from crm.models import Contact
    from engine.runtime import queue, scheduler
    from tests.cast import make_published
    from workflows.models import ScheduledAction

    workflow = make_published(tenant, instant_flow("Claims", 2))
    contact = Contact.objects.create(tenant=tenant, first_name="Claim")
    (args,) = enroll_quietly(workflow, [contact])
    table = ScheduledAction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(
            f"""INSERT INTO {table} (tenant_id, enrollment_id, step_id, kind, seq, due_at, status,
                attempts, created_at)
                SELECT %s, %s, 's1', 'resume', 0,
                       CASE WHEN g <= %s::int THEN now() - interval '1 minute'
                            ELSE now() + interval '1 day' END,
                       'pending', 0, now()
                FROM generate_series(1, %s::int) AS g""",
            [tenant.pk, args[0], due, due + future],
        )
        cursor.execute(f"ANALYZE {table}")

    def reset():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET status='pending' WHERE status='claimed'")

    with queue.use_dispatcher(lambda name, a: None):
        start = time.perf_counter()
        claimed = 0
        while batch := scheduler.claim_due(limit=1000):
            claimed += len(batch)
        ours = time.perf_counter() - start
    reset()
    import psycopg

    raw = psycopg.connect(os.environ["DATABASE_URL"])
    start = time.perf_counter()
    raw_claimed = 0
    while True:
        with raw.transaction():
            ids = [
                row[0]
                for row in raw.execute(
                    f"SELECT id FROM {table} WHERE status='pending' AND due_at <= now() "
                    "ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED"
                )
            ]
            if not ids:
                break
            raw.execute(
                f"UPDATE {table} SET status='claimed', claimed_at=now() WHERE id = ANY(%s)", [ids]
            )
            raw_claimed += len(ids)
    baseline = time.perf_counter() - start
    raw.close()
    assert claimed == raw_claimed == due, (claimed, raw_claimed)
    return {
        "engine_claims_per_s": due / ours,
        "raw_claims_per_s": due / baseline,
        "ratio": baseline / ours,
    }


def bench_lateness(tenant, count: int, interval: float) -> dict:
    from crm.models import Contact
    from engine.runtime import queue, scheduler
    from tests.cast import make_published
    from workflows.models import Enrollment, ScheduledAction, StepLog

    flow = {
        "name": "Lateness",
        "steps": [
            {"id": "pause", "type": "wait", "config": {"duration": "5s"}},
            {"id": "after", "type": "exit", "config": {"reason": "done"}},
        ],
    }
    workflow = make_published(tenant, flow)
    contacts = Contact.objects.bulk_create(
        Contact(tenant=tenant, first_name=f"L{i}") for i in range(count)
    )
    held = enroll_quietly(workflow, contacts)
    for position, args in enumerate(held):
        queue.dispatch(queue.RUN_STEP, args)
        if position % 50 == 0:
            time.sleep(0.5)  # spread due times over ~10 s
    deadline = time.perf_counter() + 120
    while Enrollment.objects.filter(workflow=workflow).exclude(status="exited").exists():
        scheduler.tick(lookahead=timedelta(seconds=interval))  # what beat runs every interval
        time.sleep(interval)
        if time.perf_counter() > deadline:
            raise TimeoutError("lateness run did not finish")
    due = dict(
        ScheduledAction.objects.filter(enrollment__workflow=workflow).values_list(
            "enrollment_id", "due_at"
        )
    )
    started = dict(
        StepLog.objects.filter(workflow=workflow, step_id="after").values_list(
            "enrollment_id", "started_at"
        )
    )
    late = sorted((started[e] - due[e]) / timedelta(seconds=1) for e in due if e in started)
    return {
        "p50_s": statistics.median(late),
        "p99_s": statistics.quantiles(late, n=100)[98],
        "scheduler_interval_s": interval,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrollments", type=int, default=10_000)
    parser.add_argument("--tag-enrollments", type=int, default=2_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--future", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    options = parser.parse_args()
    if options.quick:
        options.enrollments, options.due, options.future = 500, 5_000, 50_000
        options.tag_enrollments = 500
    prepare_environment()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(os.environ["BENCH_REDIS_URL"]).flushdb()
    from tests.cast import make_tenant

    tenant = make_tenant("bench")
    worker = start_worker(options.concurrency)
    try:
        results = {
            "queries_pure": count_queries_per_step(tenant, "condition"),
            "queries_tag": count_queries_per_step(tenant, "add_tag"),
            "throughput": bench_throughput(tenant, options.enrollments, "condition"),
            "throughput_tags": bench_throughput(tenant, options.tag_enrollments, "add_tag"),
            "overhead": bench_step_overhead(tenant),
            "lateness": bench_lateness(tenant, 500 if not options.quick else 100, 2.0),
        }
    finally:
        worker.terminate()
        worker.wait(30)
    results["claims"] = bench_claims(tenant, options.due, options.future)
    print_report(results, options)


def print_report(r: dict, options) -> None:
    t, tt, o = r["throughput"], r["throughput_tags"], r["overhead"]
    c, lat = r["claims"], r["lateness"]
    n = options.enrollments
    rows = [
        (
            f"(1) steps/s, {n} enrollments x 5 pure steps (condition)",
            f"{t['engine_steps_per_s']:.0f}",
            f"{t['bare_steps_per_s']:.0f} (bare Celery chain)",
            f"{t['ratio']:.2f}x",
            ">= 0.5x",
        ),
        (
            f"(1b) steps/s, {options.tag_enrollments} enrollments x 5 side-effect steps (add_tag)",
            f"{tt['engine_steps_per_s']:.0f}",
            f"{tt['bare_steps_per_s']:.0f} (bare Celery chain)",
            f"{tt['ratio']:.2f}x",
            ">= 0.5x",
        ),
        (
            "(2) step-to-step p50 / p99, 40-step add_tag chains, one at a time",
            f"{o['step_to_step_p50_ms']:.1f} / {o['step_to_step_p99_ms']:.1f} ms",
            "",
            f"handler p50 {o['handler_p50_ms']:.0f} ms",
            "< 10 ms p50",
        ),
        (
            f"(3) claims/s, {options.due} due among {options.future} future",
            f"{c['engine_claims_per_s']:.0f}",
            f"{c['raw_claims_per_s']:.0f} (raw psycopg SKIP LOCKED)",
            f"{c['ratio']:.2f}x",
            ">= 0.5x",
        ),
        (
            "(4) lateness due -> started p50 / p99",
            f"{lat['p50_s']:.2f} / {lat['p99_s']:.2f} s",
            "",
            f"interval {lat['scheduler_interval_s']:.0f} s",
            "p99 < interval + 1 s",
        ),
    ]
    print("| measure | engine | baseline | ratio / note | target |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nSQL statements per step (warm caches, BEGIN/COMMIT aside): pure condition steps "
        f"{r['queries_pure']}; add_tag steps {r['queries_tag']}."
    )


if __name__ == "__main__":
    main()
