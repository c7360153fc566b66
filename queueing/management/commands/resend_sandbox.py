"""Run the Resend sandbox as its own process (development, demo, benchmarks)."""

from __future__ import annotations

import dataclasses
import errno
import re
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox import SandboxConfig, SandboxServer


class Command(BaseCommand):
    help = "Serve a local stand-in for Resend's email API until SIGINT or SIGTERM."
    requires_system_checks: list[str] = []  # needs neither the database nor the models

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set by SIGINT/SIGTERM; tests that run the command in a thread set it themselves.
        self.stop_event = threading.Event()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025, help="0 picks a free port")
        parser.add_argument("--rate-limit", type=float, default=0, help="requests/s, 0 = none")
        parser.add_argument("--fail-rate", type=float, default=0, help="share of 500 answers")
        parser.add_argument("--rate-limit-fault-rate", type=float, default=0)
        parser.add_argument("--slow-rate", type=float, default=0)
        parser.add_argument("--slow-seconds", type=float, default=SandboxConfig.slow_seconds)
        parser.add_argument("--drop-rate", type=float, default=0)
        parser.add_argument("--daily-quota", type=int, default=None)
        parser.add_argument("--api-key", default=None, help="accept only this Bearer token")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--record-file", default=None, help="append accepted emails (JSONL)")
        parser.add_argument("--no-validate", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be between 0 and 65535, got {port}.")
        try:
            config = SandboxConfig(
                api_key=options["api_key"],
                rate_limit=options["rate_limit"],
                fail_rate=options["fail_rate"],
                rate_limit_fault_rate=options["rate_limit_fault_rate"],
                slow_rate=options["slow_rate"],
                slow_seconds=options["slow_seconds"],
                drop_rate=options["drop_rate"],
                daily_quota=options["daily_quota"],
                validate=not options["no_validate"],
                seed=options["seed"],
                record_file=options["record_file"],
            )
            server = SandboxServer(host=host, port=port, config=config)
        except ValueError as exc:
            raise CommandError(f"Invalid option: {_as_option_names(str(exc))}.") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"Port {port} on {host} is already in use. "
                    "Stop the other process or pick another port with --port."
                ) from None
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None

        server.start()
        previous = self._install_signal_handlers()
        try:
            self.stdout.write(f"Resend sandbox listening on {server.url}")
            self.stdout.flush()
            self.stop_event.wait()
        finally:
            server.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}  # signals can only be handled in the main thread
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: self.stop_event.set())
        return previous


def _as_option_names(message: str) -> str:
    """Name config fields the way they were typed: `fail_rate` -> `--fail-rate`."""
    for field in dataclasses.fields(SandboxConfig):
        option = (
            "--no-validate" if field.name == "validate" else "--" + field.name.replace("_", "-")
        )
        message = re.sub(rf"\b{field.name}\b", option, message)
    return message
