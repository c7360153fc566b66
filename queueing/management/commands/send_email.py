"""Send one email through the queue from the command line (never prompts)."""

from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from queueing.models import Priority, Source
from queueing.services import message_create
from queueing.validation import describe_error


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # `manage.py check` reports settings; keep output clean
    help = (
        "Queue one email. Prints the new message's id alone on the last line. "
        "Example: manage.py send_email --to a@example.com --subject Hi --text Hello"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to", action="append", required=True, help="Recipient; repeat for up to 50."
        )
        parser.add_argument("--subject", required=True)
        body = parser.add_mutually_exclusive_group(required=True)
        body.add_argument("--html", help="HTML body.")
        body.add_argument("--text", help="Plain-text body.")
        body.add_argument("--html-file", type=Path, help="Read the HTML body from this file.")
        parser.add_argument("--from", dest="from_email", help="Sender (MAILHUB_DEFAULT_FROM).")
        parser.add_argument("--cc", action="append", default=[])
        parser.add_argument("--bcc", action="append", default=[])
        parser.add_argument("--reply-to", action="append", default=[])
        parser.add_argument("--priority", choices=Priority.values, default=Priority.TRANSACTIONAL)
        parser.add_argument(
            "--at", help="Send at this ISO 8601 time with a zone, e.g. 2026-12-01T09:00+00:00."
        )

    def handle(self, *args, **options) -> None:
        html = options["html"] or ""
        if options["html_file"]:
            html = _read_html(options["html_file"])
        try:
            message = message_create(
                to=options["to"],
                subject=options["subject"],
                html=html,
                text=options["text"] or "",
                from_email=options["from_email"],
                cc=options["cc"],
                bcc=options["bcc"],
                reply_to=options["reply_to"],
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


def _read_html(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"--html-file {path}: no such file.") from None
    except UnicodeDecodeError:
        raise CommandError(f"--html-file {path}: not UTF-8 text.") from None
    except OSError as exc:
        raise CommandError(f"--html-file {path}: {exc.strerror}.") from None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--at {value!r} is not an ISO 8601 time; use e.g. 2026-12-01T09:00+00:00."
        ) from None
