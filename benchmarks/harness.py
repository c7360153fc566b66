"""Shared set-up for benchmarks: an isolated database and Redis, the sandbox and workers as
real processes, exactly as they run in production (only the addresses differ).

Call `prepare()` before importing anything from Django apps.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(*, sandbox_port: int, rate_limit: float = 0.0) -> dict[str, str]:
    """Point this process (and the processes it starts) at benchmark-only resources."""
    VAR.mkdir(exist_ok=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "mailhub.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{VAR / 'bench.sqlite3'}"),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        "RESEND_API_URL": f"http://127.0.0.1:{sandbox_port}",
        "RESEND_API_KEY": "re_benchmark",
        "RESEND_RATE_LIMIT": str(rate_limit),
        "RQ_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        # DEBUG is off, as in production, so what production must set is set here (the web
        # app and the workers refuse to start without it; campaigns need the postal address).
        "SECRET_KEY": "benchmark-only-secret-key-not-for-production-use-0123456789",
        "MAILHUB_BASE_URL": "http://bench.invalid",
        "MAILHUB_POSTAL_ADDRESS": "mailhub benchmark, 1 Example Street, Springfield",
    }
    os.environ.update(env)
    ensure_postgres_database(env["DATABASE_URL"])
    if "BENCH_DATABASE_URL" not in os.environ:
        # A fresh file each run: no state or old schema carried over from an earlier run.
        for suffix in ("", "-wal", "-shm"):
            (VAR / f"bench.sqlite3{suffix}").unlink(missing_ok=True)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return env


def ensure_postgres_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database on first use (a fresh machine has none)."""
    from urllib.parse import urlparse

    parts = urlparse(url)
    if not parts.scheme.startswith("postgres"):
        return
    import psycopg

    name = parts.path.lstrip("/")
    admin = (
        parts._replace(path="/postgres").geturl().replace(f"{parts.scheme}://", "postgresql://", 1)
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def reset_state() -> None:
    """Empty benchmark database tables and the benchmark Redis database."""
    import redis
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    # Emptied in one statement: rows reference each other (messages, batches, campaigns).
    tables = [
        "queueing_webhookdelivery",
        "queueing_providerwebhookevent",
        "queueing_messageevent",
        "queueing_messageattachment",
        "queueing_message",
        "queueing_sendbatch",
        "campaigns_campaign_lists",
        "campaigns_campaign",
        "recipients_subscriptionevent",
        "recipients_subscription",
        "recipients_recipient",
    ]
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        for table in [t for t in tables if t in existing]:
            cursor.execute(f"DELETE FROM {table}")
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


_sandbox_pids: list[int] = []


def sandbox_cpu_seconds() -> float:
    """CPU used so far by the running sandbox (it shares the machine's cores with mailhub)."""
    return cpu_seconds(_sandbox_pids[-1]) if _sandbox_pids else 0.0


@contextmanager
def sandbox_process(port: int, *args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "resend_sandbox", "--port", str(port), *args],
        cwd=ROOT,
        # Its output goes to a file: a pipe nobody reads would block it once full.
        stdout=open(VAR / "bench-sandbox.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    _sandbox_pids.append(proc.pid)
    try:
        from sandbox import SandboxControl

        control = SandboxControl(url)
        deadline = time.monotonic() + 20
        while not control.health():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.1)
        yield url
    finally:
        _sandbox_pids.remove(proc.pid)
        proc.terminate()
        proc.wait(timeout=10)


# BENCH_PROFILE_DIR=DIR: py-spy samples every worker (and the job processes it forks) into
# DIR/worker-PID.txt as raw stacks, GIL holders only. py-spy is not a dependency: install it.
_profilers: dict[int, subprocess.Popen] = {}


def start_worker(*extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A real `rqworker` process; `env` overrides settings for it (e.g. RESEND_RATE_LIMIT)."""
    worker = _worker_process(*extra, env=env)
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    if profile_dir:
        Path(profile_dir).mkdir(parents=True, exist_ok=True)
        out = Path(profile_dir) / f"worker-{worker.pid}.txt"
        sampling = ["-r", "200", "--gil", "--nonblocking", "--subprocesses", "-f", "raw"]
        _profilers[worker.pid] = subprocess.Popen(
            ["py-spy", "record", *sampling, "-o", str(out), "--pid", str(worker.pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return worker


def _worker_process(*extra: str, env: dict[str, str] | None) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "rqworker",
            "transactional",
            "events",
            "bulk",
            "-v",
            "0",
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / ticks, sum(values) / ticks


def database_cpu_seconds() -> float:
    """CPU used so far by PostgreSQL on this machine (0 without it): every postgres process,
    plus the exited backends the postmaster has reaped."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.with_name("comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):
            continue  # the process ended while we looked
    return total


def wait_for_workers(count: int, timeout: float = 60) -> None:
    """Until `count` workers have registered with RQ (started up, listening)."""
    import django_rq
    from rq import Worker

    connection = django_rq.get_connection("bulk")
    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=connection)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} workers did not start within {timeout:.0f} s")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its finished children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # utime, stime, cutime, cstime are fields 14-17 of stat (12-15 after the name).
    return sum(int(v) for v in fields[11:15]) / ticks


def stop_workers(workers: list[subprocess.Popen], timeout: float = 30) -> None:
    """Ask workers to stop (they finish their job), and kill any that has not within
    `timeout`: a benchmark must never leave a worker behind to disturb the next one."""
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        profiler = _profilers.pop(worker.pid, None)
        if profiler is not None:  # py-spy writes its file when its process has ended
            profiler.wait(timeout=60)


def wait_campaign_sent(campaign, timeout: float, interval: float = 0.5) -> None:
    """Until the campaign is `sent`; the benchmark fails if it is not within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        campaign.refresh_from_db()
        if campaign.status == "sent":
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the campaign is still {campaign.status} after {timeout} s")
        time.sleep(interval)
