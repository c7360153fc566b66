"""Cancel queued or scheduled messages in bulk, through the admin's cancel service."""

from django.core.management.base import BaseCommand, CommandParser

from audit.services import audit_record
from queueing.bulk_actions import cancel_preview, messages_cancel
from queueing.management.command_support import (
    add_filter_arguments,
    command_actor,
    filter_from_options,
    progress_bar,
    write_skips,
)
from queueing.services import UNSENT

STATUSES = tuple(s.value for s in UNSENT)


class Command(BaseCommand):
    help = (
        "Cancel queued or scheduled messages that have not been handed to a worker (never "
        "members of a frozen batch), and say what was skipped. Example: manage.py "
        "cancel_messages --status scheduled --campaign 12 --dry-run"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_filter_arguments(parser, STATUSES)
        parser.add_argument(
            "--reason", default="cancelled by command", help="Shown on each message's timeline."
        )

    def handle(self, *args, **options) -> None:
        selection = filter_from_options(options, STATUSES)
        reason = options["reason"].strip()[:200] or "cancelled by command"
        preview = cancel_preview(selection)
        self.stdout.write(f"Messages matching {selection.describe()}: {preview.matched:,}.")
        if not preview.matched:
            self.stdout.write("Nothing to do: no message matches these filters.")
            return
        self.stdout.write(f"  to cancel: {preview.done:,}")
        write_skips(self.stdout, preview, planned=True)
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
            return
        actor = command_actor("cancel_messages")
        with progress_bar(preview.matched, "Cancelling", self.stderr._out) as advance:
            report = messages_cancel(
                selection,
                actor=actor,
                reason=reason,
                batch_size=options["batch_size"],
                progress=advance,
            )
        audit_record(
            actor=actor,
            action="messages.cancel",
            target_label=f"cancel_messages: {selection.describe()}"[:200],
            detail={"filter": selection.as_detail(), "reason": reason, **report.as_detail()},
        )
        self.stdout.write(f"{report.done:,} message(s) cancelled.")
        write_skips(self.stdout, report, planned=False)
