"""Soak: PostgreSQL connections held under a steady webhook load, on the studio and in production.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \
    .venv/bin/python bench/soak_connections.py       # --minutes 10 --rate 20 --target both

For each target it drops and recreates the database ``soak_connections`` on the server of
``DATABASE_URL`` (so the last run's data can be read until the next run), flushes the broker's
Redis database, migrates, publishes one webhook-triggered workflow (``add_tag``, ``wait`` 0 s,
``update_contact``, ``add_tag``) and seeds contacts, then starts the target:

- ``studio``: ``python3 run.py studio --port P`` (runserver + a threads worker + beat, DEBUG on,
  the demo seeded), exactly as a developer runs it;
- ``gunicorn``: the README's production processes: gunicorn ``-w 2 -k gthread --threads 4``,
  ``celery worker -P prefork -c 6`` and beat, DEBUG off.

It drives HMAC-signed webhooks at a paced ``--rate`` for ``--minutes`` and every 15 s samples
``pg_stat_activity`` for the database (client backends by state and by the process holding them,
matched through /proc by the client's TCP port; this script's own connection excluded) and
``pg_stat_database.sessions`` (sessions opened so far, PostgreSQL 14+). It prints the samples
and a summary: held connections min/max/last, the least-squares slope over the second half,
sessions opened per minute, requests sent/accepted, enrollments completed, and a verdict against
"flat" (second half: max - min <= 2 and |slope| x its minutes <= 2). Not a test: nothing
here asserts time. Children are stopped (SIGTERM, then SIGKILL) at the end and on Ctrl-C;
their output goes to var/soak/<target>-<process>.log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_journeys import FINAL, Driver, Hook, publish, seed_contacts  # noqa: E402

SOAK_DB = "soak_connections"
LOG_DIR = ROOT / "var" / "soak"
SAMPLE_SECONDS = 15.0
# "Flat" over the second half of the load: held connections move within FLAT_SPREAD, both as a
# range (max - min) and as the least-squares trend across that half (|slope| x its minutes).
# A one-off step, such as a web server thread serving for the first time, stays inside it;
# one connection leaked per minute or two does not.
FLAT_SPREAD = 2
STEPS = [
    {"id": "tag", "type": "add_tag", "config": {"tag": "soak"}},
    {"id": "pause", "type": "wait", "config": {"duration": "0s"}},
    {"id": "mark", "type": "update_contact", "config": {"fields": {"custom_fields.soak": "seen"}}},
    {"id": "done", "type": "add_tag", "config": {"tag": "soak-done"}},
]
STATES = ("active", "idle", "idle in transaction")
ROLES = ("web", "worker", "beat")


# --- setup --------------------------------------------------------------------------------


@dataclass
class Urls:
    admin: str  # the server's maintenance database, for DROP/CREATE DATABASE
    soak: str  # the soak database, for the target and this script
    broker: str


def urls_from_environment() -> Urls:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/6")
    if not base.startswith("postgres") or not broker.startswith("redis"):
        sys.exit("soak_connections needs DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://…")
    parsed = urlparse(base)
    return Urls(
        admin=parsed._replace(path="/postgres").geturl(),
        soak=parsed._replace(path=f"/{SOAK_DB}").geturl(),
        broker=broker,
    )


def recreate_database(urls: Urls) -> None:
    """Drop the last run's database (and whatever still holds it), create it empty, flush Redis."""
    import psycopg
    import redis
    from django.db import connections

    connections.close_all()
    with psycopg.connect(urls.admin, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SOAK_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {SOAK_DB}")
    redis.Redis.from_url(urls.broker).flushdb()


def prepare_data(contacts: int) -> Hook:
    """Migrate, one tenant with ``contacts`` contacts and the soak workflow; its webhook."""
    from django.core.management import call_command

    from tests.cast import make_tenant

    call_command("migrate", verbosity=0)
    tenant = make_tenant("soak")
    seed_contacts(tenant.pk, 1, contacts + 1)
    return publish(tenant, "soak", STEPS)


# --- the target's processes ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env(urls: Urls, production: bool) -> dict:
    """The environment a developer (studio) or an operator (gunicorn) would give the target."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DATABASE_URL=urls.soak,
        CELERY_BROKER_URL=urls.broker,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    if production:
        env.update(
            DEBUG="0",
            SECRET_KEY=f"soak-{uuid.uuid4().hex}",
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )
    return env


@dataclass
class Target:
    """The processes of one target, started in sessions of their own (Ctrl-C reaches us only)."""

    name: str
    port: int
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list = field(default_factory=list)

    def spawn(self, label: str, argv: list[str], env: dict) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"{self.name}-{label}.log", "w")  # noqa: SIM115 (closed in stop)
        self.logs.append(log)
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)

    def wait_until_serving(self, path: str, timeout: float) -> None:
        """Until ``GET path`` answers at all (the webhook's URL answers 405 without touching
        the database or the static files, which production serves only after collectstatic)."""
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p for p in self.processes if p.poll() is not None]
            if dead:
                raise SystemExit(f"{self.name}: a process exited early; see {LOG_DIR}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"{self.name}: nothing answered on port {self.port} in {timeout:.0f} s")

    def pids(self) -> set[int]:
        """Our processes and all their descendants (run.py's children, gunicorn's workers…)."""
        return descendants({p.pid for p in self.processes if p.poll() is None})

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM each process (each shuts down gracefully), SIGKILL whatever is left."""
        every = self.pids()
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        time.sleep(1)
        for pid in every & descendants(every):  # grandchildren that outlived their parent
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for log in self.logs:
            log.close()


def start_studio(urls: Urls, port: int, probe: str) -> Target:
    target = Target("studio", port)
    target.spawn(
        "run.py", ["python3", "run.py", "studio", "--port", str(port)], child_env(urls, False)
    )
    target.wait_until_serving(probe, 300)  # run.py migrates and seeds the demo first
    return target


def start_gunicorn(urls: Urls, port: int, probe: str) -> Target:
    env = child_env(urls, True)
    bin_ = ROOT / ".venv" / "bin"
    target = Target("gunicorn", port)
    target.spawn(
        "web",
        [
            str(bin_ / "gunicorn"), "automation_studio.wsgi:application",
            "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread", "--threads", "4",
        ],
        env,
    )  # fmt: skip
    celery = str(bin_ / "celery")
    target.spawn(
        "worker", [celery, "-A", "automation_studio", "worker", "-P", "prefork", "-c", "6"], env
    )
    target.spawn("beat", [celery, "-A", "automation_studio", "beat"], env)
    target.wait_until_serving(probe, 120)
    return target


# --- /proc: which of our processes holds which connection ---------------------------------


def descendants(roots: set[int]) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = set(roots)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found and pid not in found}
        found |= more
        grew = bool(more)
    return {pid for pid in found if pid in parents}


def role_of(pid: int) -> str:
    with contextlib.suppress(OSError):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(b"runserver" in a or b"gunicorn" in a for a in argv):
            return "web"
        if b"worker" in argv:
            return "worker"
        if b"beat" in argv:
            return "beat"
    return "other"


def roles_by_client_port(pids: set[int]) -> dict[int, str]:
    """Local TCP port of each socket to :5432 → the role of the process holding it."""
    inode_port: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[2].endswith(":1538"):  # remote port 5432
                    inode_port[parts[9]] = int(parts[1].rsplit(":", 1)[1], 16)
    found: dict[int, str] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        port = inode_port.get(link[8:-1])
                        if port is not None:
                            found[port] = role_of(pid)
    return found


# --- sampling -----------------------------------------------------------------------------


@dataclass
class Sample:
    """One look at the soak database: connections held by state and by role, counters."""

    t: float  # seconds since the load started
    states: dict[str, int]
    roles: dict[str, int]
    total: int
    sessions: int  # pg_stat_database.sessions: sessions opened since the database was created
    finished: int  # enrollments of the soak workflow in a final state
    load1: float
    label: str = ""


def take_sample(t0: float, hook: Hook, target: Target, label: str = "") -> Sample:
    from django.db import connection

    ports = roles_by_client_port(target.pids())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, client_port FROM pg_stat_activity WHERE datname = %s "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            [SOAK_DB],
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", [SOAK_DB])
        sessions = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM workflows_enrollment WHERE workflow_id = %s AND status = ANY(%s)",
            [hook.workflow_id, list(FINAL)],
        )
        finished = cursor.fetchone()[0]
    states = dict.fromkeys((*STATES, "other"), 0)
    roles = dict.fromkeys((*ROLES, "other"), 0)
    for state, port in rows:
        states[state if state in STATES else "other"] += 1
        roles[ports.get(port, "other")] += 1
    return Sample(
        time.monotonic() - t0, states, roles, len(rows), sessions, finished, os.getloadavg()[0],
        label,
    )  # fmt: skip


def slope_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of connections held against time, in connections per minute."""
    n = len(samples)
    if n < 2:
        return float("nan")
    xs = [s.t / 60 for s in samples]
    ys = [s.total for s in samples]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


# --- one target ---------------------------------------------------------------------------


def soak(name: str, urls: Urls, options: argparse.Namespace) -> dict:
    """Run one target for the whole time; its samples and counts."""
    from django.db import connections

    recreate_database(urls)
    hook = prepare_data(options.contacts)
    connections.close_all()
    port = options.port or free_port()
    print(f"\n== {name}: starting on port {port} (logs in {LOG_DIR}/{name}-*.log)", flush=True)
    target = (start_studio if name == "studio" else start_gunicorn)(
        urls, port, f"/hooks/{hook.token}/"
    )
    seconds = options.minutes * 60
    driver = Driver(port, options.contacts)
    sent: list = []
    load_before = os.getloadavg()
    t0 = time.monotonic()

    def load() -> None:
        sent.extend(
            driver.drive(
                f"/hooks/{hook.token}/", hook.secret,
                clients=options.clients, seconds=seconds, rate=options.rate,
            )
        )  # fmt: skip

    samples: list[Sample] = []
    try:
        samples.append(take_sample(t0, hook, target, "start"))
        print_header()
        print_row(samples[-1])
        driving = threading.Thread(target=load, daemon=True)
        driving.start()
        while driving.is_alive():
            next_at = samples[-1].t + SAMPLE_SECONDS
            if next_at > seconds - 1:  # the end sample comes right after the load
                driving.join()
                break
            driving.join(timeout=max(0.0, next_at - (time.monotonic() - t0)))
            if not driving.is_alive():
                break
            samples.append(take_sample(t0, hook, target))
            print_row(samples[-1])
        load_after = os.getloadavg()
        end = take_sample(t0, hook, target, "end")
        samples.append(end)
        print_row(end)
        accepted = sum(1 for s in sent if s.status == 202)
        deadline = time.monotonic() + 120
        drained = end
        while drained.finished < accepted and time.monotonic() < deadline:
            time.sleep(2)
            drained = take_sample(t0, hook, target, "drained")
        print_row(drained)
    finally:
        print(f"== {name}: stopping", flush=True)
        target.stop()
    statuses: dict[int, int] = {}
    for s in sent:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    return {
        "name": name,
        "samples": samples,
        "drained": drained,
        "sent": len(sent),
        "accepted": accepted,
        "statuses": statuses,
        "seconds": seconds,
        "load": (load_before, load_after),
    }


# --- the report ---------------------------------------------------------------------------


def print_header() -> None:
    print(
        "| t (s) | held | active | idle | idle in tx | other state | web | worker | beat "
        "| other process | sessions opened | enrollments done | load 1 min |"
    )
    print("| ---: " * 13 + "|")


def print_row(s: Sample) -> None:
    t = f"{s.t:.0f}" + (f" ({s.label})" if s.label else "")
    cells = [
        t, s.total, s.states["active"], s.states["idle"], s.states["idle in transaction"],
        s.states["other"], s.roles["web"], s.roles["worker"], s.roles["beat"], s.roles["other"],
        s.sessions, s.finished, f"{s.load1:.1f}",
    ]  # fmt: skip
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def summarise(r: dict, options: argparse.Namespace) -> None:
    during = r["samples"]
    half = [s for s in during if s.t >= r["seconds"] / 2]
    held = [s.total for s in during]
    first, last = during[0], during[-1]
    minutes = max(last.t - first.t, 1e-9) / 60
    spread = max(s.total for s in half) - min(s.total for s in half) if half else 0
    slope = slope_per_minute(half)
    half_minutes = max(half[-1].t - half[0].t, 1e-9) / 60 if len(half) > 1 else float("nan")
    if len(half) < 3:
        verdict = "too short to judge (fewer than 3 samples in the second half)"
    elif spread <= FLAT_SPREAD and abs(slope) * half_minutes <= FLAT_SPREAD:
        verdict = "FLAT"
    else:
        verdict = "NOT FLAT"
    half_sessions = (half[-1].sessions - half[0].sessions) / half_minutes if len(half) > 1 else 0
    (b1, b5, b15), (a1, a5, a15) = r["load"]
    drained = r["drained"]
    print(f"\n### {r['name']}: summary\n")
    print(
        f"- load: {options.rate:g} requests/s for {options.minutes:g} min from "
        f"{options.clients} clients; load average (1/5/15 min) {b1:.1f}/{b5:.1f}/{b15:.1f} "
        f"before, {a1:.1f}/{a5:.1f}/{a15:.1f} at the end"
    )
    print(
        f"- connections held: min {min(held)}, max {max(held)}, last {last.total}; "
        f"second half: min {min(s.total for s in half) if half else '-'}, "
        f"max {max(s.total for s in half) if half else '-'}, slope {slope:+.3f} per min"
    )
    loaded = during[1:] or during
    by_role = ", ".join(
        f"{role} {min(s.roles[role] for s in loaded)}-{max(s.roles[role] for s in loaded)}"
        for role in (*ROLES, "other")
    )
    print(f"- held by process under load (min-max): {by_role}")
    print(
        f"- sessions opened: {last.sessions - first.sessions} in {minutes:.1f} min = "
        f"{(last.sessions - first.sessions) / minutes:.1f} per min "
        f"(second half {half_sessions:.1f} per min)"
    )
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
    print(
        f"- requests sent {r['sent']} ({r['sent'] / r['seconds']:.1f}/s), accepted (202) "
        f"{r['accepted']}; by status {statuses}"
    )
    print(
        f"- enrollments completed: {last.finished} at the end of the load, {drained.finished} "
        f"after draining (of {r['accepted']} accepted)"
    )
    print(
        f"- verdict: **{verdict}** (flat = over the second half, {half_minutes:.1f} min: "
        f"max - min <= {FLAT_SPREAD} and |slope| x {half_minutes:.1f} min = "
        f"{abs(slope) * half_minutes:.2f} <= {FLAT_SPREAD})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="load time per target")
    parser.add_argument("--rate", type=float, default=20.0, help="webhook requests per second")
    parser.add_argument("--target", choices=("studio", "gunicorn", "both"), default="both")
    parser.add_argument("--clients", type=int, default=8, help="client threads sharing the rate")
    parser.add_argument("--contacts", type=int, default=2_000)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    options = parser.parse_args()
    urls = urls_from_environment()
    # This process only sets up data and samples; the targets get their own environments.
    os.environ.update(
        DATABASE_URL=urls.soak,
        CELERY_BROKER_URL=urls.broker,
        DEBUG="0",
        SECRET_KEY=f"soak-{uuid.uuid4().hex}",
        ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="automation_studio.settings",
        LOG_LEVEL="WARNING",
    )

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    import django

    django.setup()
    names = ["studio", "gunicorn"] if options.target == "both" else [options.target]
    results = []
    try:
        for name in names:
            results.append(soak(name, urls, options))
    except KeyboardInterrupt:
        print("\ninterrupted; the targets' processes were stopped", file=sys.stderr)
        sys.exit(130)
    print(f"\ncommand: {' '.join(sys.argv)}")
    for r in results:
        summarise(r, options)


if __name__ == "__main__":
    main()
