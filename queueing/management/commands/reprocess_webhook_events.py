"""Process stored webhooks again: those kept with an error, those since a time, or by id."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from queueing.provider_events.reprocess import webhook_events_reprocess


def _since(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"--since {value!r} is not a date and time (e.g. 2025-01-31T12:00Z).")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = (
        "Process unprocessed webhook events again, now, in this process (their attempts "
        "start again). Example: manage.py reprocess_webhook_events --failed --since 2025-01-31"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--failed", action="store_true", help="Only events kept with an error.")
        parser.add_argument("--since", help="Only events received at or after this time.")
        parser.add_argument(
            "--id",
            type=int,
            action="append",
            dest="ids",
            help="This raw event; repeat for several.",
        )

    def handle(self, *args, **options) -> None:
        since = _since(options["since"]) if options["since"] else None
        report = webhook_events_reprocess(ids=options["ids"], failed=options["failed"], since=since)
        self.stdout.write(f"{report.processed} event(s) processed, {report.failed} failed.")
        if report.already_processed:
            self.stdout.write(
                f"{report.already_processed} event(s) were processed before and were left alone."
            )
        for pk, error in report.errors.items():
            self.stderr.write(f"event {pk}: {error}")
        if report.failed:
            raise CommandError(f"{report.failed} event(s) failed again; they keep their error.")
