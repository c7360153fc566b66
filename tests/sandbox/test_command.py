"""`manage.py resend_sandbox` and `python -m sandbox`: clear errors for bad arguments, and real
runs."""

import io
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from mailhub.management.commands.resend_sandbox import Command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-rate", "2"], "--fail-rate must be between 0 and 1"),
        (["--drop-rate", "-1"], "--drop-rate must be a finite number >= 0"),
        (["--rate-limit", "-3"], "--rate-limit must be a finite number >= 0"),
        (["--slow-seconds", "-1"], "--slow-seconds must be a finite number >= 0"),
        (["--daily-quota", "-5"], "--daily-quota must be >= 0"),
        (["--api-key", ""], "--api-key must be a non-empty string"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--port", "abc"], "invalid int value"),
        (["--fail-rate", "often"], "invalid float value"),
        (["--record-file", "/nonexistent/dir/out.jsonl"], "cannot be opened"),
    ],
)
def test_bad_arguments_raise_command_error(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command(Command(), *args)


def test_busy_port_says_so_and_suggests_another() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=rf"Port {port} .* already in use.*--port"):
            call_command(Command(), "--port", str(port))


def test_serves_until_stopped() -> None:
    command, out = Command(), io.StringIO()
    thread = threading.Thread(
        target=call_command,
        args=(command, "--port", "0", "--rate-limit", "5", "--seed", "1"),
        kwargs={"stdout": out},
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 5
    while "listening on" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    line = out.getvalue().strip()
    assert line.startswith("Resend sandbox listening on http://127.0.0.1:")
    url = line.rsplit(" ", 1)[1]
    assert requests.get(f"{url}/_sandbox/health").json() == {"ok": True}
    assert requests.get(f"{url}/_sandbox/config").json()["rate_limit"] == 5
    command.stop_event.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sandbox/health", timeout=1)


ROOT = Path(__file__).resolve().parents[2]


def run_python(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=30, **kwargs
    )


def test_python_m_sandbox_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--rate-limit", "5", "--seed", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("Resend sandbox listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert requests.get(f"{url}/_sandbox/health").json() == {"ok": True}
        assert requests.get(f"{url}/_sandbox/config").json()["rate_limit"] == 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-rate", "2"], "--fail-rate must be between 0 and 1"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--port", "abc"], "invalid int value"),
    ],
)
def test_python_m_sandbox_refuses_bad_arguments(args: list[str], message: str) -> None:
    result = run_python("-m", "sandbox", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "usage: python -m sandbox" in result.stderr


def test_the_command_loads_the_sandbox_only_when_it_runs() -> None:
    # The product's import graph stays free of the development tool, and the tool of Django.
    command = (
        "import sys, mailhub.management.commands.resend_sandbox; print('sandbox' in sys.modules)"
    )
    assert run_python("-c", command).stdout.strip() == "False"
    cli = "import sys, sandbox.cli; print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'mailhub'}))"
    assert run_python("-c", cli).stdout.strip() == "[]"
