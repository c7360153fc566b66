"""The check on Redis' maxmemory-policy, against real Redis servers of our own (the shared
test Redis is left alone): one that evicts, one whose CONFIG command is disabled."""

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.mailhub.test_checks import PRODUCTION, manage
from tests.mailhub.test_health import closed_port

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


@pytest.fixture
def redis_server(tmp_path) -> Iterator[Callable[..., str]]:
    """Start a throwaway redis-server with extra options; its URL."""
    procs: list[subprocess.Popen] = []

    def start(*options: str) -> str:
        port = closed_port()
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                return url
            except (OSError, redis.ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_evicting_redis_is_a_warning(redis_server):
    url = redis_server("--maxmemory-policy", "allkeys-lru")
    result = manage("check", **PRODUCTION, REDIS_URL=url)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert "(mailhub.W010) Redis' maxmemory-policy is 'allkeys-lru'" in out
    assert "maxmemory-policy noeviction" in out
    # --deploy with warnings as failures: an operator's pipeline stops on it.
    assert (
        manage(
            "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, REDIS_URL=url
        ).returncode
        != 0
    )


def test_noeviction_is_clean(redis_server):
    url = redis_server("--maxmemory-policy", "noeviction")
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, REDIS_URL=url)
    assert result.returncode == 0, result.stderr
    assert "mailhub.W010" not in result.stdout + result.stderr
    assert "mailhub.I010" not in result.stdout + result.stderr


def test_config_disabled_is_said_but_not_a_failure(redis_server):
    """Managed Redis services often disable CONFIG: the check says it could not look."""
    url = redis_server("--rename-command", "CONFIG", "")
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, REDIS_URL=url)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert "(mailhub.I010) Could not read Redis' maxmemory-policy (CONFIG GET was refused" in out
    assert "mailhub.W010" not in out


def test_unreachable_redis_is_only_w003():
    result = manage("check", **PRODUCTION, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "mailhub.W003" in out
    assert "mailhub.W010" not in out and "mailhub.I010" not in out
