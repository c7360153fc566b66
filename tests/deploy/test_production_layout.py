"""docs/DEPLOY.md's layout, run for real: the documented environment (DEBUG off, HTTPS behind
a proxy, PostgreSQL), `migrate`, `collectstatic`, gunicorn from deploy/gunicorn.conf.py with
WhiteNoise, two `rqworker … --with-scheduler` processes and the Resend sandbox, each its own
process. A transactional email through the HTTP API and a small campaign through the
commands both reach the sandbox; a hashed static file, /healthz and /readyz answer.

This test plays the TLS proxy: it sends the documented Host and `X-Forwarded-Proto: https`.
"""

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from sandbox import SandboxControl
from tests.conftest import ROOT, kill_worker, wait_until
from tests.mailhub.test_checks import clean_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the production layout runs on PostgreSQL"
    ),
]

WORKER = ["manage.py", "rqworker", "transactional", "events", "bulk", "--with-scheduler"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def layout_database() -> Iterator[str]:
    """A PostgreSQL database of its own (the suite's test database is in use), dropped after."""
    db = connection.settings_dict
    name = db["NAME"].removeprefix("test_") + "_prod"
    server = {
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    password = f":{server['password']}" if server["password"] else ""
    try:
        yield f"postgres://{server['user'] or ''}{password}@{server['host']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(**server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Processes:
    """Processes started for the layout; every one is stopped however the test ends."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: its children are stopped with it
            )
        self.started.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for name, proc in reversed(self.started):
            if name.startswith("worker"):
                kill_worker(proc)  # with its job processes
                continue
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)

    def print_logs(self) -> None:
        for log in sorted(self.logs.glob("*.log")):
            print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}")


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run a documented command as an operator would; its standard output."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_documented_layout_sends_mail(documented_production_env, layout_database, tmp_path):
    sandbox_port, web_port = free_port(), free_port()
    static_root = tmp_path / "static"
    local = {  # where this machine's processes are, instead of the documented hosts
        "DJANGO_SETTINGS_MODULE": "mailhub.settings",
        "DATABASE_URL": layout_database,
        "STATIC_ROOT": str(static_root),
        "RESEND_API_URL": f"http://127.0.0.1:{sandbox_port}",
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "LOG_LEVEL": "WARNING",
    }
    env = clean_env(**{**documented_production_env, **local})
    host = env["ALLOWED_HOSTS"].split(",")[0]
    proxy = {"Host": host, "X-Forwarded-Proto": "https"}
    web = f"http://127.0.0.1:{web_port}"
    processes = Processes(tmp_path)
    passed = False
    try:
        # The order of docs/DEPLOY.md: migrate, collectstatic, start web, start workers.
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "collectstatic", "--no-input", "-v", "0")
        processes.start("sandbox", ["-m", "sandbox", "--port", str(sandbox_port)], env)
        gunicorn = processes.start(
            "gunicorn", ["-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "mailhub.wsgi"], env
        )
        workers = [processes.start(f"worker-{n}", WORKER, env) for n in (1, 2)]
        sandbox = SandboxControl(f"http://127.0.0.1:{sandbox_port}")

        def web_ready() -> bool:
            assert gunicorn.poll() is None, "gunicorn exited"
            try:
                return requests.get(f"{web}/readyz", timeout=2).status_code == 200
            except requests.RequestException:  # not listening yet, or still booting
                return False

        assert wait_until(web_ready, timeout=30), "gunicorn never became ready"
        assert wait_until(sandbox.health, timeout=15), "the sandbox did not start"

        # Health, as a load balancer probes it: by address, plain HTTP.
        health = requests.get(f"{web}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "alive"
        ready = requests.get(f"{web}/readyz", timeout=5).json()
        assert ready["checks"]["database"]["state"] == "up"
        assert ready["checks"]["redis"]["state"] == "up"
        # HTTPS is enforced: plain HTTP through the proxy is sent to https.
        plain = requests.get(f"{web}/admin/", headers={"Host": host}, allow_redirects=False)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")

        # A static file under its hashed name, from WhiteNoise, cached for good.
        manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
        hashed = manifest["admin/css/base.css"]
        assert hashed != "admin/css/base.css"
        static = requests.get(
            f"{web}/static/{hashed}", headers={**proxy, "Accept-Encoding": "gzip"}, timeout=5
        )
        assert static.status_code == 200, static.text[:200]
        assert "immutable" in static.headers["Cache-Control"]
        assert static.headers.get("Content-Encoding") == "gzip"
        assert static.content == (static_root / hashed).read_bytes()

        # A transactional email through the HTTP API, with a key made by the command.
        key = manage(env, "create_api_key", "--name", "layout", "--scope", "send").split()[-1]
        sent = requests.post(
            f"{web}/api/emails",
            headers={**proxy, "Authorization": f"Bearer {key}"},
            json={
                "from": env["MAILHUB_DEFAULT_FROM"],
                "to": ["layout-transactional@example.com"],
                "subject": "Your receipt",
                "text": "Thank you.",
            },
            timeout=10,
        )
        assert sent.status_code == 200, sent.text

        # A small campaign through the commands: import, create, send (it follows to the end).
        people = [f"layout-reader-{n}@example.com" for n in range(5)]
        audience = tmp_path / "audience.csv"
        with audience.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["email", "first_name"])
            writer.writerows([address, f"Reader {n}"] for n, address in enumerate(people))
        body = tmp_path / "campaign.html"
        body.write_text(
            '<p>Hello {{ recipient.first_name }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'
        )
        manage(env, "import_recipients", str(audience), "--list", "layout", "--no-progress")
        campaign_id = manage(
            env,
            "create_campaign",
            "--name",
            "Layout",
            "--subject",
            "News",
            "--html-file",
            str(body),
            "--list",
            "layout",
        ).split()[-1]
        finished = manage(env, "send_campaign", campaign_id, "--poll", "0.2", timeout=60)
        assert "sent: 5 sent, 0 failed" in finished, finished

        def arrived() -> bool:
            return len(sandbox.emails()) == 1 + len(people)

        assert wait_until(arrived, timeout=20)
        receipt = sandbox.emails(to="layout-transactional@example.com")
        assert [e["request"]["subject"] for e in receipt] == ["Your receipt"]
        for n, address in enumerate(people):
            (email,) = sandbox.emails(to=address)
            assert email["request"]["subject"] == "News"
            assert f"Hello Reader {n}" in email["request"]["html"]
            assert email["via"] == "batch"  # a campaign's messages share requests
        assert all(w.poll() is None for w in workers), "a worker exited"
        passed = True
    finally:
        processes.stop_all()
        if not passed:
            processes.print_logs()
