"""The sandbox's command line, shared by `python -m sandbox` and `manage.py resend_sandbox`.

Both take the same options, refuse bad ones with the same words and serve until SIGINT or
SIGTERM; only how an error reaches the person differs (argparse's usage error or Django's
CommandError), so this module raises `CliError` and leaves that to the caller.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import re
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sandbox.webhook_payloads import OUTCOMES

DESCRIPTION = "Serve a local stand-in for Resend's email API until SIGINT or SIGTERM."


class CliError(Exception):
    """A bad option or an address the sandbox cannot listen on, said for the person."""


def add_options(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument(
        "--unverified-domain",
        action="append",
        default=[],
        dest="unverified_domains",
        help="answer sends from this domain with Resend's 403 (repeatable)",
    )
    webhooks = parser.add_argument_group("webhooks (Resend's events for every accepted email)")
    webhooks.add_argument("--webhook-url", default=None, help="POST signed events here")
    webhooks.add_argument(
        "--webhook-secret", default=None, help='"whsec_" + base64; generated and printed if absent'
    )
    webhooks.add_argument(
        "--webhook-mix",
        default=None,
        help="outcome weights, e.g. delivered=60,opened=30,bounced_permanent=2 "
        f"(outcomes: {', '.join(OUTCOMES)}; default: delivered=1)",
    )
    webhooks.add_argument("--webhook-delay-min", type=float, default=0, help="seconds")
    webhooks.add_argument("--webhook-delay-max", type=float, default=0, help="seconds")
    webhooks.add_argument("--webhook-duplicates", type=float, default=0, help="share sent twice")
    webhooks.add_argument(
        "--webhook-out-of-order", type=float, default=0, help="share of emails shuffled"
    )
    webhooks.add_argument("--webhook-attempts", type=int, default=SandboxConfig.webhook_attempts)
    webhooks.add_argument("--webhook-backoff", type=float, default=SandboxConfig.webhook_backoff)


def server_from_options(options: Mapping[str, Any]) -> SandboxServer:
    """A sandbox bound to --host/--port (not serving yet) and configured by the other options."""
    host, port = options["host"], options["port"]
    if not 0 <= port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, got {port}.")
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
            unverified_domains=options.get("unverified_domains") or (),
            **_webhook_fields(options),
        )
        return SandboxServer(host=host, port=port, config=config)
    except ValueError as exc:
        raise CliError(f"Invalid option: {_as_option_names(str(exc))}.") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                f"Port {port} on {host} is already in use. "
                "Stop the other process or pick another port with --port."
            ) from None
        raise CliError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None


def webhook_notes(config: SandboxConfig, options: Mapping[str, Any]) -> list[str]:
    """What to tell the person about webhooks at start: where they go, and a generated secret
    (a secret they gave is not echoed into logs)."""
    if config.webhook_url is None:
        return []
    mix = ",".join(f"{name}={weight:g}" for name, weight in config.webhook_mix.items())
    notes = [f"Webhooks go to {config.webhook_url} (mix {mix})"]
    if not options.get("webhook_secret"):
        notes.append(f"Webhook signing secret (generated): {config.webhook_secret}")
    return notes


def serve(
    server: SandboxServer,
    stop_event: threading.Event,
    say: Callable[[str], None],
    notes: Sequence[str] = (),
) -> None:
    """Serve until `stop_event` is set; SIGINT and SIGTERM set it when run in the main thread."""
    server.start()
    previous = _install_signal_handlers(stop_event)
    try:
        say(f"Resend sandbox listening on {server.url}")
        for note in notes:
            say(note)
        stop_event.wait()
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m sandbox`: the sandbox without Django."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=DESCRIPTION)
    add_options(parser)
    options = vars(parser.parse_args(argv))
    try:
        server = server_from_options(options)
    except CliError as exc:
        parser.error(str(exc))  # exits with status 2 and the usage, like a bad option
    notes = webhook_notes(server.config, options)
    serve(server, threading.Event(), lambda line: print(line, flush=True), notes)


def _webhook_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    fields = {
        name: options[name]
        for name in (
            "webhook_url",
            "webhook_secret",
            "webhook_delay_min",
            "webhook_delay_max",
            "webhook_duplicates",
            "webhook_out_of_order",
            "webhook_attempts",
            "webhook_backoff",
        )
        if options.get(name) is not None
    }
    if options.get("webhook_mix"):
        fields["webhook_mix"] = parse_mix(options["webhook_mix"])
    return fields


def parse_mix(text: str) -> dict[str, float]:
    """`delivered=60,opened=30` -> {"delivered": 60.0, "opened": 30.0}; the config checks the
    names and weights."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, weight = part.partition("=")
        try:
            if not sep:
                raise ValueError(part)
            mix[name.strip()] = float(weight)
        except ValueError:
            raise CliError(
                "Invalid option: --webhook-mix must be name=weight pairs separated by commas "
                f"(e.g. delivered=60,opened=30), got {text!r}."
            ) from None
    return mix


def _install_signal_handlers(stop_event: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}  # signals can only be handled in the main thread
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda *_: stop_event.set())
    return previous


def _as_option_names(message: str) -> str:
    """Name config fields the way they were typed: `fail_rate` -> `--fail-rate`."""
    for field in dataclasses.fields(SandboxConfig):
        option = (
            "--no-validate" if field.name == "validate" else "--" + field.name.replace("_", "-")
        )
        message = re.sub(rf"\b{field.name}\b", option, message)
    return message
