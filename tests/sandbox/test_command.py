"""`manage.py resend_sandbox`: clear CommandErrors for bad arguments, and a real run."""

import io
import re
import socket
import threading
import time

import pytest
import requests
from django.core.management import CommandError, call_command

from queueing.management.commands.resend_sandbox import Command


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
