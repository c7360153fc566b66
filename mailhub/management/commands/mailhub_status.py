import argparse
import json
import math
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from mailhub.status import system_status
from mailhub.status.text import status_text

CLEAR = "\033[H\033[2J"


def _positive(text: str) -> float:
    """argparse type: a number of seconds more than 0 (argparse names the option)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds more than 0, got {text!r}")
    return value


class Command(BaseCommand):
    help = (
        "The system's status: backlog, sent and failed, throughput, workers and what they hold, "
        "the rate limiter, pauses, campaigns in flight and the latest failures (the figures of "
        "the admin dashboard)."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="print the dashboard's JSON (the same document as /admin/status.json)",
        )
        parser.add_argument(
            "--watch",
            nargs="?",
            const=2.0,
            type=_positive,
            metavar="SECONDS",
            help="refresh every SECONDS (2 if not given) until interrupted",
        )
        parser.add_argument(
            "--count",
            type=int,
            metavar="N",
            help="with --watch: stop after N refreshes",
        )

    def handle(self, *args, json: bool, watch: float | None, count: int | None, **options):
        if count is not None and watch is None:
            raise CommandError("--count goes with --watch.")
        if count is not None and count < 1:
            raise CommandError("--count must be at least 1.")
        if watch is None:
            self._show(as_json=json, clear=False)
            return
        shown = 0
        clear = not json and getattr(self.stdout, "isatty", lambda: False)()
        try:
            while True:
                self._show(as_json=json, clear=clear)
                shown += 1
                if count is not None and shown >= count:
                    return
                time.sleep(watch)
        except KeyboardInterrupt:
            self.stdout.write("")

    def _show(self, *, as_json: bool, clear: bool) -> None:
        status = system_status()
        if as_json:
            # One document per line when watching: easy to read with jq or a script.
            self.stdout.write(_dumps(status.to_json()))
            return
        if clear:
            self.stdout.write(CLEAR, ending="")
        self.stdout.write(status_text(status))
        if not clear:
            self.stdout.write("")
        sys.stdout.flush()


def _dumps(data: dict) -> str:
    return json.dumps(data, sort_keys=True)
