"""`manage.py resend_sandbox`: run the Resend sandbox as its own process (development, demo,
benchmarks). The options and their checks are the sandbox's own (`sandbox.cli`), shared with
`python -m sandbox`; this command only turns their errors into CommandErrors."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Serve a local stand-in for Resend's email API until SIGINT or SIGTERM."
    requires_system_checks: list[str] = []  # needs neither the database nor the models

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set by SIGINT/SIGTERM; tests that run the command in a thread set it themselves.
        self.stop_event = threading.Event()

    def add_arguments(self, parser: CommandParser) -> None:
        # The sandbox is a development tool, loaded only when this command is used, which keeps
        # it out of the product's import graph.
        from sandbox import cli

        cli.add_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        # Loaded here, not at the top, for the same reason as in add_arguments.
        from sandbox import cli

        try:
            server = cli.server_from_options(options)
        except cli.CliError as exc:
            raise CommandError(str(exc)) from None
        notes = cli.webhook_notes(server.config, options)
        cli.serve(server, self.stop_event, self._say, notes)

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
