"""/healthz (the process answers) and /readyz (the database answers; Redis reported, never
failing it), against real dependencies: a closed port is a Redis or PostgreSQL that is not
there, a listening socket that never answers is a Redis that hangs."""

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from axes.models import AccessAttempt

from tests.conftest import ROOT
from tests.mailhub.test_checks import PRODUCTION, clean_env


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def hanging_redis() -> Iterator[str]:
    """A TCP listener that never accepts or answers: the kernel completes the handshake, PING
    is written, and no reply ever comes (a Redis stuck, or a half-dead proxy)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def test_healthz_calls_no_dependency(client, settings):
    # No django_db mark: pytest-django makes any database access raise; Redis is not there.
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "status": "alive",
        "checks": {
            "process": {"state": "up"},
            "database": {"state": "not_checked"},
            "redis": {"state": "not_checked"},
        },
    }


@pytest.mark.django_db
def test_readyz_names_each_dependency_with_its_state_and_latency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis"}
    for name, required in (("database", True), ("redis", False)):
        check = body["checks"][name]
        assert check["state"] == "up", check
        assert check["required"] is required
        assert isinstance(check["latency_ms"], float) and check["latency_ms"] >= 0


@pytest.mark.django_db
def test_readyz_stays_ready_while_redis_is_down(client, settings):
    settings.REDIS_URL = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["state"] == "up"
    assert body["checks"]["redis"]["state"] == "down"
    assert body["checks"]["redis"]["error"] == "ConnectionError"
    # The address and the password stay in the log, not in the answer.
    assert b"127.0.0.1" not in response.content and b"hunter2" not in response.content


@pytest.mark.django_db
def test_a_hanging_redis_does_not_hang_readyz(client, settings, hanging_redis):
    settings.REDIS_URL = hanging_redis
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    redis_check = response.json()["checks"]["redis"]
    assert redis_check == {**redis_check, "state": "down", "error": "TimeoutError"}
    # Bounded by the 0.5 s socket timeout (redis-py's default would wait forever).
    assert elapsed < 3, elapsed


@pytest.mark.parametrize(
    "database_url",
    [
        "postgres://mailhub:s3cret-pw@127.0.0.1:{port}/mailhub",
        "sqlite:////nonexistent-folder-{port}/mailhub.sqlite3",
    ],
    ids=["postgres-closed-port", "sqlite-missing-folder"],
)
def test_readyz_is_503_when_the_database_is_unreachable(database_url):
    """A real process with a database it cannot reach: /readyz is 503 naming the database,
    /healthz still 200. The probe uses no allowed Host and plain HTTP, as a load balancer
    calling a node by its address does."""
    script = (
        "import json, django; django.setup()\n"
        "from django.test import Client\n"
        "client = Client(HTTP_HOST='10.0.0.7')\n"
        "for path in ('/readyz', '/healthz'):\n"
        "    r = client.get(path)\n"
        "    print(json.dumps([path, r.status_code, r.content.decode()]))\n"
    )
    env = clean_env(**PRODUCTION, DATABASE_URL=database_url.format(port=closed_port()))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answers = {
        path: (status, body)
        for path, status, body in map(json.loads, result.stdout.split("\n")[:2])
    }
    status, body = answers["/readyz"]
    assert status == 503, body
    ready = json.loads(body)
    assert ready["status"] == "unavailable"
    assert ready["checks"]["database"]["state"] == "down"
    assert ready["checks"]["database"]["error"] == "OperationalError"
    assert ready["checks"]["redis"]["state"] == "up"
    assert "s3cret" not in body and "127.0.0.1" not in body and "nonexistent" not in body
    assert answers["/healthz"][0] == 200
    # The cause is in the log, once.
    assert result.stderr.count("readyz: database is down (OperationalError") == 1


def test_a_hanging_database_is_bounded_by_the_connect_timeout():
    """A PostgreSQL that accepts the TCP connection and never answers (a listener that never
    accepts): /readyz answers 503 after DATABASE_CONNECT_TIMEOUT, instead of holding the probe
    and a web thread for as long as TCP would wait."""
    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(16)
        port = hanging.getsockname()[1]
        started = time.monotonic()
        status, body = readyz_in_a_process(
            DATABASE_URL=f"postgres://mailhub@127.0.0.1:{port}/mailhub",
            DATABASE_CONNECT_TIMEOUT="2",  # libpq's smallest
        )
        elapsed = time.monotonic() - started
    assert status == 503, body
    assert json.loads(body)["checks"]["database"]["state"] == "down"
    # The process's start-up is part of it; without the timeout it would not return at all.
    assert elapsed < 30, elapsed


def readyz_in_a_process(**env: str) -> tuple[int, str]:
    script = (
        "import json, django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/readyz')\n"
        "print(json.dumps([r.status_code, r.content.decode()]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean_env(**PRODUCTION, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    status, body = json.loads(result.stdout.strip().splitlines()[-1])
    return status, body


def test_only_get_and_head(client):
    for path in ("/healthz", "/readyz"):
        response = client.post(path)
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD"
        assert client.put(path).status_code == 405


@pytest.mark.django_db
def test_head_answers_the_status_without_a_body(client):
    response = client.head("/readyz")
    assert response.status_code == 200 and response.content == b""


@pytest.mark.django_db
def test_probes_need_no_allowed_host_and_no_login(client, settings):
    """A probe by IP address (no ALLOWED_HOSTS entry) over plain HTTP with redirects on,
    from an address the login throttle has locked out: still answered."""
    settings.SECURE_SSL_REDIRECT = True
    AccessAttempt.objects.create(
        ip_address="127.0.0.1",
        username="admin",
        user_agent="probe",
        failures_since_start=1000,
        get_data="",
        post_data="",
        http_accept="*/*",
        path_info="/admin/login/",
    )
    for path in ("/healthz", "/readyz"):
        response = client.get(path, HTTP_HOST="10.0.0.7")
        assert response.status_code == 200, (path, response.content)
    # The same host on any other page is refused, as before.
    assert client.get("/api/emails", HTTP_HOST="10.0.0.7").status_code == 400
