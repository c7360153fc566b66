"""Fixtures shared by the whole suite: real Redis, the real sandbox, real RQ workers."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

from sandbox import SandboxConfig, SandboxControl, SandboxServer

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`e2e` tests (the SDKs, schemathesis) are slow: they run in CI's PostgreSQL pass only,
    or anywhere with MAILHUB_TEST_E2E=1."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        return
    if os.environ.get("MAILHUB_TEST_E2E") == "1":
        return
    skip = pytest.mark.skip(
        reason="e2e: runs on PostgreSQL (DATABASE_URL) or with MAILHUB_TEST_E2E=1"
    )
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def clean_redis() -> Iterator[redis.Redis]:
    """Every test starts from an empty (test-only) Redis database."""
    from queueing.enqueue import forget_recent_asks

    client = redis.Redis.from_url(settings.REDIS_URL)
    forget_recent_asks()  # this process's last ask for event processing is flushed too
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {settings.REDIS_URL}: {exc}. Start Redis first.")
    yield client
    client.close()


@pytest.fixture(autouse=True)
def fresh_claim_cursors() -> Iterator[None]:
    """Claims walk on from the last id this process claimed; a test must not inherit another
    test's position (ids are reused after a rollback)."""
    from queueing.claims import stored

    stored._cursors.clear()
    yield
    stored._cursors.clear()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(host="127.0.0.1", port=0, config=SandboxConfig()).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, settings) -> Iterator[SandboxControl]:
    """The Resend sandbox, emptied and with default behaviour, that mailhub sends to."""
    control = SandboxControl(sandbox_server.url)
    control.reset()
    control.configure(**SandboxConfig().to_dict())
    settings.RESEND_API_URL = sandbox_server.url
    settings.RESEND_API_KEY = "re_test_key"
    yield control
    control.reset()


@pytest.fixture
def client_as(django_user_model) -> Callable[[str], Client]:
    """A signed-in admin client for a role (a group from mailhub/roles.py) or "superuser"."""

    def make(role: str) -> Client:
        user = django_user_model.objects.create_user(
            role, password="pw", is_staff=True, is_superuser=role == "superuser"
        )
        if role != "superuser":
            user.groups.add(Group.objects.get(name=role))
        client = Client()
        client.force_login(user)
        return client

    return make


def run_worker_burst() -> None:
    """Run a real RQ worker over its queues until they are empty (in this process)."""
    from django_rq import get_worker

    worker = get_worker(
        "transactional", "events", "bulk", worker_class="queueing.worker.MailhubSimpleWorker"
    )
    worker.work(burst=True, logging_level="WARNING")


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@pytest.fixture
def deliver_all() -> Callable[..., None]:
    """Work the queues (reconciling between rounds, as a worker does) until nothing is pending."""
    from queueing.models import PENDING_STATUSES, Message
    from queueing.reconciler import reconcile

    def run(timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            run_worker_burst()
            if not Message.objects.filter(status__in=PENDING_STATUSES).exists():
                return
            if time.monotonic() > deadline:
                pending = list(
                    Message.objects.filter(status__in=PENDING_STATUSES).values(
                        "id", "status", "next_attempt_at", "attempts"
                    )
                )
                pytest.fail(f"messages still pending after {timeout} s: {pending}")
            time.sleep(0.1)
            reconcile()

    return run


def worker_env(sandbox_url: str, **extra: str) -> dict[str, str]:
    """Environment for a worker subprocess: the test database, test Redis and the sandbox."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        database_url = f"sqlite:///{db['NAME']}"
    else:
        user = db.get("USER") or ""
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        database_url = f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database_url,
        TEST_REDIS_URL=settings.REDIS_URL,
        RESEND_API_URL=sandbox_url,
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


@pytest.fixture
def start_worker(
    sandbox: SandboxControl, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start real `manage.py rqworker transactional events bulk --with-scheduler` processes.

    Their output goes to files in tmp_path (a pipe nobody reads would block them); the output
    is printed when a test fails, and every worker still running is stopped afterwards."""
    procs: list[subprocess.Popen] = []

    def start(**extra_env: str) -> subprocess.Popen:
        log_file = open(tmp_path / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "rqworker",
                "transactional",
                "events",
                "bulk",
                "--with-scheduler",
            ],
            env=worker_env(sandbox.url, **extra_env),
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        procs.append(proc)
        return proc

    yield start
    # Killed outright, job processes too: a worker finishing its job after the test would
    # send into the next test's sandbox.
    for proc in procs:
        kill_worker(proc)
    for log in sorted(tmp_path.glob("worker-*.log")):
        print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-4000:]}")


def kill_worker(proc: subprocess.Popen) -> None:
    """SIGKILL a worker and its job processes (RQ gives each its own process group)."""
    if proc.poll() is None:
        children = child_pids(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
    proc.wait(timeout=10)


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (RQ's job processes), read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children
