"""Send one email through the queue from the command line (never prompts)."""

import os
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from queueing.models import Priority, Source
from queueing.services import message_create
from queueing.validation import address_list, describe_error, max_message_bytes


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # `manage.py check` reports settings; keep output clean
    help = (
        "Queue one email. Prints the new message's id alone on the last line. "
        "Example: manage.py send_email --to a@example.com --subject Hi --text Hello"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to",
            action="append",
            required=True,
            help="Recipient(s): repeat, or separate with commas; quote a name that holds a comma: '\"Doe, John\" <john@example.com>'. Up to 50.",
        )
        parser.add_argument("--subject", required=True)
        body = parser.add_mutually_exclusive_group(required=True)
        body.add_argument("--html", help="HTML body.")
        body.add_argument("--text", help="Plain-text body.")
        body.add_argument("--html-file", type=Path, help="Read the HTML body from this file.")
        body.add_argument("--text-file", type=Path, help="Read the text body from this file.")
        parser.add_argument("--from", dest="from_email", help="Sender (MAILHUB_DEFAULT_FROM).")
        parser.add_argument("--cc", action="append", default=[])
        parser.add_argument("--bcc", action="append", default=[])
        parser.add_argument("--reply-to", action="append", default=[])
        parser.add_argument("--priority", choices=Priority.values, default=Priority.TRANSACTIONAL)
        parser.add_argument(
            "--at",
            help="Send at this ISO 8601 time, e.g. 2026-12-01T09:00+00:00; "
            "without an offset it is read in TIME_ZONE.",
        )

    def handle(self, *args, **options) -> None:
        html = options["html"] or ""
        text = options["text"] or ""
        if options["html_file"]:
            html = _read_body(options["html_file"], "--html-file")
        if options["text_file"]:
            text = _read_body(options["text_file"], "--text-file")
        try:
            message = message_create(
                to=_addresses(options["to"], "to"),
                subject=options["subject"],
                html=html,
                text=text,
                from_email=options["from_email"],
                cc=_addresses(options["cc"], "cc"),
                bcc=_addresses(options["bcc"], "bcc"),
                reply_to=_addresses(options["reply_to"], "reply_to"),
                priority=options["priority"],
                scheduled_at=_parse_time(options["at"]),
                source=Source.COMMAND,
            )
        except ValidationError as exc:
            raise CommandError(describe_error(exc)) from None
        when = (
            f"scheduled for {message.scheduled_at.isoformat()}"
            if message.scheduled_at
            else "queued"
        )
        self.stdout.write(f"Message {message.pk} {when} to {', '.join(message.to)}.")
        self.stdout.write(str(message.pk))


def _addresses(values: list[str], field: str) -> list[str]:
    """Each option value may hold several addresses; every one is kept (or refused)."""
    return [a for value in values for a in address_list(value, field)]


def _read_body(path: Path, option: str) -> str:
    """The file's text, its size checked first: a file too large is refused unread."""
    limit = max_message_bytes()
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            # At most one byte past the limit, also for a pipe or a file still growing.
            data = file.read(limit + 1) if size <= limit else b""
        if size > limit or len(data) > limit:
            raise CommandError(
                f"{option} {path}: {max(size, len(data)):,} bytes or more; a message may be at "
                f"most {limit:,} bytes (MAILHUB_MAX_MESSAGE_BYTES)."
            )
        return data.decode("utf-8")
    except FileNotFoundError:
        raise CommandError(f"{option} {path}: no such file.") from None
    except UnicodeDecodeError:
        raise CommandError(f"{option} {path}: not UTF-8 text.") from None
    except OSError as exc:
        raise CommandError(f"{option} {path}: {exc.strerror}.") from None


def _parse_time(value: str | None) -> datetime | None:
    """ISO 8601; a time without an offset is read in TIME_ZONE (as the compose form does)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--at {value!r} is not an ISO 8601 time; use e.g. 2026-12-01T09:00+00:00."
        ) from None
    if timezone.is_naive(when):
        try:
            when = timezone.make_aware(when)
        except (OverflowError, ValueError):
            raise CommandError(f"--at {value!r} is out of range.") from None
    return when
