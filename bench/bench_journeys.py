"""End-to-end journeys: signed webhooks into gunicorn, steps run by a real Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \
    .venv/bin/python bench/bench_journeys.py          # --quick: shorter phases, no 1M contacts

Creates (and drops) a database of its own, flushes the broker's Redis database, starts gunicorn
(``bench.settings``: the product plus the floor view) and one worker, publishes webhook-triggered
workflows and drives signed requests from N client threads for a fixed time per phase. Every
figure is printed beside its target; the targets are ratios against the floor measured in the same
run (a view inserting one row and enqueuing one task inserting one row, driven the same way),
because the machine is shared and noisy. Not a test: nothing here asserts time.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "automation_studio_journeys"
FINAL = ("completed", "exited", "failed")


def prepare_environment() -> None:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    if not base.startswith("postgres") or not broker.startswith("redis"):
        sys.exit("bench_journeys needs DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://…")
    import psycopg

    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {BENCH_DB}")
    os.environ.update(
        DATABASE_URL=urlparse(base)._replace(path=f"/{BENCH_DB}").geturl(),
        CELERY_BROKER_URL=broker,
        # As in production: with DEBUG on, Django wraps every cursor to time and keep each
        # query (about 0.3 ms of CPU per step here), which no deployment pays.
        DEBUG="0",
        SECRET_KEY=f"bench-{uuid.uuid4().hex}",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="bench.settings",
        LOG_LEVEL="WARNING",
        STUDIO_TRIGGER_INDEX_SECONDS="300",
    )


# --- processes ----------------------------------------------------------------------------


def start_web(port: int, workers: int, threads: int) -> subprocess.Popen:
    web = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"), "automation_studio.wsgi:application",
            "-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "gthread",
            "--threads", str(threads), "--log-level", "warning",
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            sys.exit("gunicorn exited; see its output above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")  # the landing page: no static manifest needed
            conn.getresponse().read()
            return web
        except OSError:
            time.sleep(0.3)
    web.terminate()
    sys.exit("gunicorn did not answer within 60 s")


def start_worker(pool: str, concurrency: int) -> subprocess.Popen:
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"), "-A", "automation_studio", "worker",
            "-P", pool, "-c", str(concurrency), "-l", "WARNING", "-I", "bench.floor",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    time.sleep(5)
    return worker


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- data ---------------------------------------------------------------------------------


def create_floor_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_floor_request (id bigserial PRIMARY KEY, delivery_id text, "
            "body text, created_at timestamptz DEFAULT clock_timestamp())"
        )
        cursor.execute(
            "CREATE TABLE bench_floor_done (id bigserial PRIMARY KEY, request_id bigint, "
            "done_at timestamptz)"
        )


def seed_contacts(tenant_id: int, start: int, stop_at: int) -> None:
    """Contacts ``C<i>@bench.example`` / ``+4915100<i>`` for i in [start, stop_at), in SQL."""
    from django.db import connection

    from crm.models import Contact

    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (tenant_id, first_name, last_name, email, phone, custom_fields,
                stage, source, timezone, email_opt_out, sms_opt_out, whatsapp_opt_out,
                voice_opt_out, created_at, updated_at)
                SELECT %s, 'C' || g, 'Bench', 'c' || g || '@bench.example',
                       '+4915100' || lpad(g::text, 7, '0'), '{{}}', 'lead', 'bench', '',
                       false, false, false, false, now(), now()
                FROM generate_series(%s::int, %s::int) AS g""",
            [tenant_id, start, stop_at - 1],
        )
        cursor.execute(f"ANALYZE {table}")


def flows() -> dict[str, list[dict]]:
    def chain(kind: str, count: int) -> list[dict]:
        steps = []
        for i in range(count):
            if kind == "condition":
                target = f"s{i + 1}" if i + 1 < count else "end"
                steps.append(
                    {"id": f"s{i}", "type": "condition", "config": {"if": [], "then": target}}
                )
            else:
                steps.append({"id": f"s{i}", "type": "add_tag", "config": {"tag": f"t{i}"}})
        return steps

    mix = [
        {"id": "pause", "type": "wait", "config": {"duration": "0s"}},
        {
            "id": "check",
            "type": "condition",
            "config": {
                "if": [{"field": "stage", "operator": "equals", "value": "lead"}],
                "then": "text",
                "else": "mark",
            },
        },
        {"id": "text", "type": "send_sms", "config": {"message": "Hi {{contact.first_name}}"}},
        {
            "id": "mark",
            "type": "update_contact",
            "config": {"fields": {"custom_fields.bench": "seen"}},
        },
    ]
    return {
        "pure5": chain("condition", 5),
        "tag5": chain("add_tag", 5),
        "mix": mix,
        "one": chain("add_tag", 1),
        "tag40": chain("add_tag", 40),
    }


@dataclass
class Hook:
    workflow_id: int
    token: str
    secret: str


def publish(tenant, name: str, steps: list[dict]) -> Hook:
    """Publish one active workflow triggered by a webhook matching contacts by email
    (re-enrollment allowed, so contacts can come back); its webhook's token and secret."""
    from tests.cast import make_published

    definition = {
        "name": f"Bench {name}",
        "trigger": {"type": "webhook", "config": {"match_by": "email"}},
        "settings": {"allow_reenrollment": True},
        "steps": steps,
    }
    workflow = make_published(tenant, definition)
    return Hook(workflow.pk, workflow.webhook_token, workflow.webhook_secret)


def publish_all(tenant) -> dict[str, Hook]:
    return {name: publish(tenant, name, steps) for name, steps in flows().items()}


# --- the client ---------------------------------------------------------------------------


@dataclass
class Sent:
    delivery_id: str
    sent_at: float  # wall clock, seconds
    status: int


@dataclass
class Driver:
    """N client threads sending signed JSON POSTs, closed-loop or paced at ``rate`` per second."""

    port: int
    contacts: int
    _next: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def contact_email(self) -> str:
        with self._lock:
            n = next(self._next)
        # Mixed case on purpose: the webhook matches emails case-insensitively.
        return f"C{(n % self.contacts) + 1}@Bench.Example"

    def drive(
        self, path: str, secret: str, *, clients: int, seconds: float, rate: float = 0.0
    ) -> list[Sent]:
        from engine.triggers.webhooks import sign

        results: list[Sent] = []
        start = time.monotonic()
        deadline = start + seconds
        ticket = itertools.count()

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            mine: list[Sent] = []
            while True:
                if rate:
                    due = start + next(ticket) / rate
                    if due >= deadline:
                        break
                    time.sleep(max(0.0, due - time.monotonic()))
                elif time.monotonic() >= deadline:
                    break
                body = json.dumps({"email": self.contact_email(), "source": "bench"}).encode()
                stamp = str(int(time.time()))
                delivery = uuid.uuid4().hex
                headers = {
                    "Content-Type": "application/json",
                    "X-Studio-Timestamp": stamp,
                    "X-Studio-Signature": sign(secret=secret, timestamp=stamp, body=body),
                    "X-Studio-Delivery": delivery,
                }
                sent_at = time.time()
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    status = 0
                mine.append(Sent(delivery, sent_at, status))
            conn.close()
            with self._lock:
                results.extend(mine)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results


# --- measures -----------------------------------------------------------------------------


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CPU_GROUPS = ("clients", "gunicorn", "worker", "postgres", "redis", "other", "idle")


def cpu_seconds(web_pid: int, worker_pid: int) -> dict[str, float]:
    """CPU seconds used so far by each group of processes (Linux /proc), plus the machine's idle
    time: where the two cores go during a phase (this process is the clients)."""
    procs: dict[int, tuple[int, str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), 12-15 after the name. The
        # children's part keeps a group's total from falling when one of its processes exits
        # (a PostgreSQL backend whose connection reached CONN_MAX_AGE, reaped by the
        # postmaster): a live child counts itself, a reaped one counts in its parent.
        used = sum(int(v) for v in fields[11:15]) / _TICK
        procs[int(entry)] = (int(fields[1]), name, used)

    def under(pid: int, root: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = procs.get(pid, (0, "", 0.0))[0]
        return False

    groups = dict.fromkeys(CPU_GROUPS, 0.0)
    for pid, (_parent, name, used) in procs.items():
        if pid == os.getpid():
            group = "clients"
        elif under(pid, web_pid):
            group = "gunicorn"
        elif under(pid, worker_pid):
            group = "worker"
        elif name == "postgres":
            group = "postgres"
        elif name.startswith("redis"):
            group = "redis"
        else:
            group = "other"
        groups[group] += used
    with open("/proc/stat") as handle:
        groups["idle"] = int(handle.readline().split()[4]) / _TICK
    return groups


@dataclass
class CpuMeter:
    """Per-phase CPU of each process group, in ms per unit of work (a journey, a request)."""

    web_pid: int
    worker_pid: int

    def start(self) -> dict[str, float]:
        return cpu_seconds(self.web_pid, self.worker_pid)

    def per_unit(self, before: dict[str, float], units: int) -> dict[str, float]:
        after = cpu_seconds(self.web_pid, self.worker_pid)
        return {g: (after[g] - before[g]) * 1000 / max(units, 1) for g in CPU_GROUPS}


METER: CpuMeter | None = None


def db_now() -> datetime:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def pg_sessions() -> tuple[int, int]:
    """(sessions opened so far, connections held now) for the bench database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [BENCH_DB])
        opened = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [BENCH_DB])
        return opened, cursor.fetchone()[0]


def queue_length() -> int:
    import redis

    return int(redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).llen("celery"))


def finished(workflow_id: int, until: datetime | None = None) -> int:
    from workflows.models import Enrollment

    rows = Enrollment.objects.filter(workflow_id=workflow_id, status__in=FINAL)
    if until is not None:
        rows = rows.filter(updated_at__lte=until)
    return rows.count()


def floor_done(until: datetime | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if until is None:
            cursor.execute("SELECT count(*) FROM bench_floor_done")
        else:
            cursor.execute("SELECT count(*) FROM bench_floor_done WHERE done_at <= %s", [until])
        return cursor.fetchone()[0]


def drain(done, expected: int, timeout: float = 120.0) -> bool:
    """Wait until ``done()`` reaches ``expected`` (work left from a phase must not slow the
    next one); False when it timed out and the broker queue was flushed instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done() >= expected and queue_length() == 0:
            return True
        time.sleep(0.5)
    import redis

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    time.sleep(2)
    return False


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


def journeys(driver: Driver, hook: Hook, *, clients: int, seconds: float, rate=0.0) -> dict:
    """Closed loop (or paced): accepted/s, journeys finished inside the window /s, backlog."""
    before = finished(hook.workflow_id)
    sessions_before, _ = pg_sessions()
    cpu = METER.start() if METER else None
    sent = driver.drive(
        f"/hooks/{hook.token}/", hook.secret, clients=clients, seconds=seconds, rate=rate
    )
    end = db_now()
    accepted = sum(1 for s in sent if s.status == 202)
    done = finished(hook.workflow_id, end) - before
    cpu_ms = METER.per_unit(cpu, done) if cpu else {}
    # The backlog along the window (at each sixth): accepted by then minus finished by then.
    # A backlog that only holds the last moments' work stays level; a growing one climbs.
    start = min((s.sent_at for s in sent), default=end.timestamp())
    backlog_series, times = [], []
    for sixth in range(1, SAMPLES + 1):
        at = start + seconds * sixth / SAMPLES
        moment = datetime.fromtimestamp(at, tz=UTC)
        taken = sum(1 for s in sent if s.status == 202 and s.sent_at <= at)
        backlog_series.append(taken - (finished(hook.workflow_id, moment) - before))
        times.append(seconds * sixth / SAMPLES)
    _, held = pg_sessions()
    drained = drain(lambda: finished(hook.workflow_id) - before, accepted)
    time.sleep(1.5)  # idle backends flush their session counters
    sessions_after, _ = pg_sessions()
    from workflows.models import StepLog

    steps = StepLog.objects.filter(workflow_id=hook.workflow_id).count()
    return {
        "accepted_per_s": accepted / seconds,
        "rejected": sum(1 for s in sent if s.status != 202),
        "journeys_per_s": done / seconds,
        "backlog": accepted - done,
        "backlog_series": backlog_series,
        "growth_per_s": slope(times, backlog_series),
        "seconds": seconds,
        "accepted": accepted,
        "held": held,
        "sessions": sessions_after - sessions_before,
        "steps": steps,
        "drained": drained,
        "cpu_ms": cpu_ms,
    }


SAMPLES = 6  # backlog samples along a phase


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (journeys of backlog per second)."""
    mean_x, mean_y = statistics.mean(xs), statistics.mean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs) or 1e-9
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def pooled(rounds: list[dict]) -> dict:
    """One phase's figures from rounds of :func:`journeys` of equal length: rates, backlogs
    and CPU per journey averaged (CPU weighted by journeys), counts of sessions added,
    connections held at the most; ``rounds_per_s`` keeps each round's journeys/s."""
    done = [one["journeys_per_s"] for one in rounds]
    total = sum(done) or 1e-9
    cpu = {
        group: sum(one["cpu_ms"][group] * rate for one, rate in zip(rounds, done, strict=True))
        / total
        for group in (rounds[0]["cpu_ms"] or {})
    }
    return {
        "accepted_per_s": statistics.mean(one["accepted_per_s"] for one in rounds),
        "rejected": sum(one["rejected"] for one in rounds),
        "journeys_per_s": statistics.mean(done),
        "rounds_per_s": done,
        "backlog": round(statistics.mean(one["backlog"] for one in rounds)),
        "backlog_series": rounds[-1]["backlog_series"],
        "accepted": sum(one["accepted"] for one in rounds),
        "held": max(one["held"] for one in rounds),
        "sessions": sum(one["sessions"] for one in rounds),
        "steps": rounds[-1]["steps"],  # the workflow's logs so far: the rounds' together
        "drained": all(one["drained"] for one in rounds),
        "cpu_ms": cpu,
    }


def floor(driver: Driver, *, clients: int, seconds: float, rate=0.0) -> dict:
    before = floor_done()
    cpu = METER.start() if METER else None
    sent = driver.drive("/bench/floor/", "unused", clients=clients, seconds=seconds, rate=rate)
    end = db_now()
    accepted = sum(1 for s in sent if s.status == 202)
    done = floor_done(end) - before
    cpu_ms = METER.per_unit(cpu, done) if cpu else {}
    drain(lambda: floor_done() - before, accepted)
    return {
        "requests_per_s": accepted / seconds,
        "done_per_s": done / seconds,
        "backlog": accepted - done,
        "sent": sent,
        "cpu_ms": cpu_ms,
    }


def latencies_ms(sent: list[Sent], finished_at: dict[str, datetime]) -> list[float]:
    return [
        (finished_at[s.delivery_id].timestamp() - s.sent_at) * 1000
        for s in sent
        if s.status == 202 and s.delivery_id in finished_at
    ]


def webhook_latency(driver: Driver, hook: Hook, *, rate: float, seconds: float) -> dict:
    """Webhook → 1-step enrollment finished (its last write), paced so nothing queues."""
    from workflows.models import Enrollment

    before = finished(hook.workflow_id)
    sent = driver.drive(f"/hooks/{hook.token}/", hook.secret, clients=4, seconds=seconds, rate=rate)
    accepted = sum(1 for s in sent if s.status == 202)
    drain(lambda: finished(hook.workflow_id) - before, accepted, 60)
    ids = {s.delivery_id for s in sent}
    done = {
        delivery: updated
        for delivery, updated in Enrollment.objects.filter(
            workflow_id=hook.workflow_id, status__in=FINAL
        ).values_list("context__trigger__delivery_id", "updated_at")
        if delivery in ids
    }
    values = latencies_ms(sent, done)
    # Where the milliseconds go (p50 of each part): send → the view's clock (the delivery's
    # received_at), → the worker's INSERT (enrolled_at), → the enrollment's last write.
    gaps = _gaps(sent, Enrollment.objects.filter(workflow_id=hook.workflow_id).values_list(
        "context__trigger__delivery_id", "context__trigger__received_at", "enrolled_at",
        "updated_at",
    ))  # fmt: skip
    return {"values": values, "gaps": gaps}


def summary(rounds: list[dict]) -> dict:
    """p50 / p99 (ms) and the p50 of each part over the samples of every round."""
    values = [v for one in rounds for v in one["values"]]
    gaps = [g for one in rounds for g in one["gaps"]]
    return {
        "p50": statistics.median(values), "p99": percentile(values, 99), "n": len(values),
        "parts": [statistics.median(column) for column in zip(*gaps, strict=True)] if gaps else [],
    }  # fmt: skip


def _gaps(sent: list[Sent], rows) -> list[list[float]]:
    """Each journey's gaps (ms): client send → first server stamp → … → last."""
    at = {s.delivery_id: s.sent_at for s in sent if s.status == 202}
    gaps: list[list[float]] = []
    for delivery, *stamps in rows:
        if delivery not in at:
            continue
        times = [at[delivery]] + [
            (datetime.fromisoformat(t) if isinstance(t, str) else t).timestamp() for t in stamps
        ]
        gaps.append([(b - a) * 1000 for a, b in itertools.pairwise(times)])
    return gaps


def floor_latency(driver: Driver, *, rate: float, seconds: float) -> dict:
    from django.db import connection

    before = floor_done()
    sent = driver.drive("/bench/floor/", "unused", clients=4, seconds=seconds, rate=rate)
    drain(lambda: floor_done() - before, sum(1 for s in sent if s.status == 202), 60)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.delivery_id, r.created_at, d.done_at FROM bench_floor_request r "
            "JOIN bench_floor_done d ON d.request_id = r.id"
        )
        rows = cursor.fetchall()
    done = {delivery: done_at for delivery, _created, done_at in rows}
    return {"values": latencies_ms(sent, done), "gaps": _gaps(sent, rows)}


def step_to_step(driver: Driver, hook: Hook, chains: int) -> dict:
    """40-step add_tag chains, one at a time: gaps between consecutive steps' starts."""
    from workflows.models import Enrollment, StepLog

    for _ in range(chains):
        before = finished(hook.workflow_id)
        driver.drive(f"/hooks/{hook.token}/", hook.secret, clients=1, seconds=60, rate=1 / 60)
        drain(lambda: finished(hook.workflow_id) - before, 1, 60)  # noqa: B023
    gaps: list[float] = []
    for enrollment in Enrollment.objects.filter(workflow_id=hook.workflow_id):
        times = list(
            StepLog.objects.filter(enrollment=enrollment)
            .order_by("id")
            .values_list("started_at", flat=True)
        )
        gaps += [(b - a).total_seconds() * 1000 for a, b in itertools.pairwise(times)]
    durations = list(
        StepLog.objects.filter(workflow_id=hook.workflow_id).values_list("duration_ms", flat=True)
    )
    return {
        "p50": statistics.median(gaps),
        "p99": percentile(gaps, 99),
        "handler_p50": statistics.median(durations),
    }


def statements_per_step(tenant) -> dict[str, float]:
    """SQL statements per step of each kind, counted by Django in this process (warm caches):
    one task of a 6-step chain of one kind, divided by the steps it ran (BEGIN/COMMIT aside)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.models import Contact
    from engine.runtime import executor, queue
    from engine.runtime.enrollment import enrollment_create
    from tests.cast import make_published
    from workflows.models import StepLog

    def config(kind: str, i: int) -> dict:
        return {
            "condition": {"if": [], "then": f"s{i + 1}" if i < 5 else "end"},
            "add_tag": {"tag": f"x{i}"},
            "send_sms": {"message": "Hello {{contact.first_name}}"},
            "update_contact": {"fields": {f"custom_fields.k{i}": "v"}},
            "wait": {"duration": "0s"},
        }[kind]

    counts = {}
    for label in ("condition", "add_tag", "send_sms", "update_contact", "wait (0 s)"):
        kind = label.split(" ")[0]
        steps = [{"id": f"s{i}", "type": kind, "config": config(kind, i)} for i in range(6)]
        workflow = make_published(tenant, {"name": f"Count {label}", "steps": steps})
        runs = []
        for n in range(2):  # the first run warms the caches
            contact = Contact.objects.create(tenant=tenant, first_name=f"Q{n}", phone="+4930123456")
            held: list = []
            with queue.use_dispatcher(lambda _name, args, held=held: held.append(args)):
                enrollment_create(workflow=workflow, contact=contact)
            with (
                queue.use_dispatcher(lambda _name, args: None),
                CaptureQueriesContext(connection) as captured,
            ):
                executor.step_run(enrollment_id=held[0][0], step_id="s0", seq=0)
            ran = StepLog.objects.filter(enrollment_id=held[0][0]).count()
            sql = [q["sql"] for q in captured.captured_queries]
            runs.append(sum(1 for q in sql if q not in ("BEGIN", "COMMIT")) / ran)
        counts[label] = runs[-1]
    return counts


def warm_up(driver: Driver, hooks: dict[str, Hook]) -> None:
    """A few requests of every kind, finished, before anything is timed: worker processes
    booted, caches and connections warm."""
    before = floor_done()
    sent = driver.drive("/bench/floor/", "unused", clients=2, seconds=2, rate=5)
    drain(lambda: floor_done() - before, sum(1 for s in sent if s.status == 202), 120)
    for name in ("pure5", "tag5", "mix", "one"):
        hook = hooks[name]
        before = finished(hook.workflow_id)
        sent = driver.drive(f"/hooks/{hook.token}/", hook.secret, clients=2, seconds=1, rate=5)
        accepted = sum(1 for s in sent if s.status == 202)
        drain(lambda h=hook, b=before: finished(h.workflow_id) - b, accepted, 120)


# --- the report ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="per closed-loop phase")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000, help="0 skips the large tenant")
    parser.add_argument("--pool", default="prefork", help="worker pool: prefork, threads, gevent")
    # The README's production worker: three prefork processes per core (bench/README.md).
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8931)
    parser.add_argument("--quick", action="store_true", help="5 s phases, no large tenant")
    parser.add_argument(
        "--latency-rounds", type=int, default=3, help="floor/webhook latency rounds (quick: 1)"
    )
    options = parser.parse_args()
    if options.quick:
        options.seconds, options.large, options.latency_rounds = 5.0, 0, 1
    prepare_environment()
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off, as deployed
    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    create_floor_tables()
    from tests.cast import make_tenant

    tenant = make_tenant("bench")
    seed_contacts(tenant.pk, 1, options.contacts + 1)
    hooks = publish_all(tenant)
    statements = statements_per_step(make_tenant("counting"))
    from django.db import connections

    connections.close_all()
    web = start_web(options.port, options.web_workers, options.web_threads)
    worker = start_worker(options.pool, options.concurrency)
    driver = Driver(options.port, options.contacts)
    global METER
    if os.path.exists("/proc/stat"):
        METER = CpuMeter(web.pid, worker.pid)
    r: dict = {"statements": statements, "options": vars(options)}
    try:
        warm_up(driver, hooks)
        r["floor"] = floor(driver, clients=options.clients, seconds=options.seconds)
        # 5 pure and 5 add_tag in A B B A order, each pooled over its two rounds: every phase
        # leaves the database bigger (and this server runs no autovacuum), so whichever ran
        # second ran on a heavier one; in this order a steady drift falls on both alike.
        rounds: dict[str, list[dict]] = {"pure5": [], "tag5": []}
        for name in ("pure5", "tag5", "tag5", "pure5"):
            rounds[name].append(
                journeys(driver, hooks[name], clients=options.clients, seconds=options.seconds)
            )
        r["pure5"], r["tag5"] = pooled(rounds["pure5"]), pooled(rounds["tag5"])
        r["mix"] = journeys(driver, hooks["mix"], clients=options.clients, seconds=options.seconds)
        # Each paced phase runs at half of a floor measured just before it, not of the run's
        # first floor: this shared machine's speed drifts over minutes (run H in
        # bench/README.md slowed by a third between its first and second half), and a rate
        # taken in a fast stretch then measures the drift, not the backlog. 30 s windows
        # (three phases' length) sampled at sixths tell a climb from a passing bump.
        paced = options.seconds * 3
        r["floor_paced"] = floor(driver, clients=options.clients, seconds=options.seconds)
        half = max(1.0, r["floor_paced"]["requests_per_s"] * 0.5)
        r["tag5_paced"] = journeys(
            driver, hooks["tag5"], clients=options.clients, seconds=paced, rate=half
        )
        r["tag5_paced"]["rate"] = half
        # The floor's requests/s counts requests whose task may still be queued; its tasks
        # done/s is what the floor sustains end to end, the same thing journeys/s counts.
        r["floor_paced_done"] = floor(driver, clients=options.clients, seconds=options.seconds)
        half_done = max(1.0, r["floor_paced_done"]["done_per_s"] * 0.5)
        r["tag5_paced_done"] = journeys(
            driver, hooks["tag5"], clients=options.clients, seconds=paced, rate=half_done
        )
        r["tag5_paced_done"]["rate"] = half_done
        rate = 10.0
        # The floor and ours in alternating rounds, their samples pooled: a drift in the
        # machine's speed during the run falls on both alike (3 × 10 s: ~300 samples each).
        floors, ours = [], []
        for _ in range(options.latency_rounds):
            floors.append(floor_latency(driver, rate=rate, seconds=options.seconds))
            ours.append(webhook_latency(driver, hooks["one"], rate=rate, seconds=options.seconds))
        r["floor_latency"], r["latency"] = summary(floors), summary(ours)
        r["chain"] = step_to_step(driver, hooks["tag40"], 3 if options.quick else 5)
        if options.large:
            seed_contacts(tenant.pk, options.contacts + 1, options.large + 1)
            driver.contacts = options.large
            r["latency_large"] = summary([
                webhook_latency(driver, hooks["one"], rate=rate, seconds=options.seconds)
                for _ in range(options.latency_rounds)
            ])  # fmt: skip
    finally:
        stop(web)
        stop(worker)
    report(r)


def paced_row(r: dict, key: str, floor_key: str, figure: str, label: str) -> tuple[str, ...]:
    """A paced phase's report row: its backlog at each sixth, and how fast it grew."""
    phase, near = r[key], r[floor_key]
    growth = phase["growth_per_s"]
    return (
        f"5 add_tag paced at 0.5x {label} ({phase['rate']:.1f}/s; that floor, measured just "
        f"before: {near[figure]:.1f}/s): backlog at each sixth of {phase['seconds']:.0f} s",
        " / ".join(str(n) for n in phase["backlog_series"]),
        f"of {phase['accepted']} accepted; grows {growth:+.1f}/s "
        f"({growth / phase['rate'] * 100:+.1f} % of the rate)",
        "no growing backlog (level: within ±1 % of the rate)",
    )


def report(r: dict) -> None:
    o, fl, tag, pure, mix = r["options"], r["floor"], r["tag5"], r["pure5"], r["mix"]
    floor_rps = fl["requests_per_s"]
    lat, flat = r["latency"], r["floor_latency"]
    rows = [
        (
            "floor: requests/s (view + 1 row, task + 1 row)",
            f"{floor_rps:.1f}",
            f"tasks done {fl['done_per_s']:.1f}/s, backlog {fl['backlog']}",
            "baseline",
        ),
        (
            "5 pure steps: journeys/s",
            f"{pure['journeys_per_s']:.1f}",
            f"rounds {' / '.join(f'{x:.1f}' for x in pure['rounds_per_s'])}; "
            f"accepted {pure['accepted_per_s']:.1f}/s, backlog {pure['backlog']}",
            "",
        ),
        (
            "5 add_tag steps: journeys/s",
            f"{tag['journeys_per_s']:.1f}",
            f"rounds {' / '.join(f'{x:.1f}' for x in tag['rounds_per_s'])}; "
            f"{tag['journeys_per_s'] / max(pure['journeys_per_s'], 1e-9):.2f}x pure; "
            f"{tag['journeys_per_s'] / floor_rps:.2f}x floor requests/s; "
            f"{tag['journeys_per_s'] / max(fl['done_per_s'], 1e-9):.2f}x floor tasks done/s; "
            f"backlog {tag['backlog']}",
            ">= 0.8x pure; >= 0.5x floor; >= 3x before (13-19/s)",
        ),
        (
            "mix (wait 0 s, condition, send_sms, update_contact): journeys/s",
            f"{mix['journeys_per_s']:.1f}",
            f"accepted {mix['accepted_per_s']:.1f}/s, backlog {mix['backlog']}",
            "",
        ),
        paced_row(r, "tag5_paced", "floor_paced", "requests_per_s", "floor requests/s"),
        paced_row(r, "tag5_paced_done", "floor_paced_done", "done_per_s", "floor tasks done/s"),
        (
            f"webhook -> 1-step done p50 / p99 (10/s, {o['contacts']:,} contacts)",
            f"{lat['p50']:.1f} / {lat['p99']:.1f} ms",
            f"{lat['p50'] / flat['p50']:.2f}x floor p50 ({flat['p50']:.1f} ms)",
            "<= 1.5x floor",
        ),
        (
            "… where it goes, p50 ms: send -> view's clock -> worker's INSERT -> last write",
            " / ".join(f"{x:.1f}" for x in lat["parts"]),
            "floor: send -> view's INSERT -> task's INSERT: "
            + " / ".join(f"{x:.1f}" for x in flat["parts"]),
            "",
        ),
    ]
    if "latency_large" in r:
        big = r["latency_large"]
        rows.append((
            f"webhook -> 1-step done p50 / p99 ({o['large']:,} contacts)",
            f"{big['p50']:.1f} / {big['p99']:.1f} ms",
            f"{big['p50'] / lat['p50']:.2f}x the {o['contacts']:,}-contact p50",
            "<= 1.2x",
        ))  # fmt: skip
    chain = r["chain"]
    rows += [
        (
            "step-to-step p50 / p99, 40-step add_tag chains",
            f"{chain['p50']:.2f} / {chain['p99']:.2f} ms",
            f"handler p50 {chain['handler_p50']:.0f} ms",
            "< 5 ms p50",
        ),
        (
            "PostgreSQL sessions opened per step (5 add_tag phase)",
            f"{tag['sessions'] / max(tag['steps'], 1):.4f}",
            f"{tag['sessions']} sessions, {tag['steps']} steps",
            "~0",
        ),
        (
            "connections held at the end of each phase",
            " / ".join(str(r[k]["held"]) for k in ("pure5", "tag5", "mix", "tag5_paced")),
            "pure5 / tag5 / mix / paced",
            "flat",
        ),
    ]
    print(
        f"\npool {o['pool']} -c {o['concurrency']}; gunicorn -w {o['web_workers']} "
        f"--threads {o['web_threads']}; {o['clients']} clients, {o['seconds']:.0f} s phases\n"
    )
    print("| measure | value | beside | target |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n| step kind | SQL statements per step | target |")
    print("| --- | --- | --- |")
    for kind, count in r["statements"].items():
        print(f"| {kind} | {count:.1f} | {'<= 8' if kind == 'add_tag' else ''} |")
    if r["floor"]["cpu_ms"]:
        print("\nCPU per unit finished in the closed-loop phases (ms of CPU time; idle is the")
        print("machine's unused time; clients are the bench's own signing threads)\n")
        print("| phase | " + " | ".join(CPU_GROUPS) + " |")
        print("| --- |" + " --- |" * len(CPU_GROUPS))
        for key, label in (
            ("floor", "floor (per task done)"),
            ("pure5", "5 pure (per journey)"),
            ("tag5", "5 add_tag (per journey)"),
            ("mix", "mix (per journey)"),
        ):
            cells = " | ".join(f"{r[key]['cpu_ms'][g]:.1f}" for g in CPU_GROUPS)
            print(f"| {label} | {cells} |")
    if not all(r[k]["drained"] for k in ("pure5", "tag5", "mix", "tag5_paced")):
        print("\nnote: a phase's backlog did not drain in 120 s; its queue was flushed")


if __name__ == "__main__":
    main()
