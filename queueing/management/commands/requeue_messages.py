"""Retry failed messages in bulk, through the admin's retry service."""

from django.core.management.base import BaseCommand, CommandParser

from audit.services import audit_record
from queueing.bulk_actions import messages_requeue, retry_preview
from queueing.management.command_support import (
    add_filter_arguments,
    command_actor,
    filter_from_options,
    progress_bar,
    write_skips,
)
from queueing.models import MessageStatus

STATUSES = (MessageStatus.FAILED.value,)


class Command(BaseCommand):
    help = (
        "Queue failed messages again (a fresh round of attempts), skipping those that must not "
        "be retried, and say why. Example: manage.py requeue_messages --status failed "
        "--since 24h --failure-code attempts_exhausted --dry-run"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_filter_arguments(parser, STATUSES)
        parser.add_argument(
            "--send-again-as-new",
            action="store_true",
            help="Send messages past the retry window, and those Resend failed after accepting "
            "them, again as new messages (new key; both timelines linked), once each. Their "
            "first copy may have reached the person: use it only when that is acceptable.",
        )

    def handle(self, *args, **options) -> None:
        selection = filter_from_options(options, STATUSES)
        preview = retry_preview(selection)
        self.stdout.write(f"Messages matching {selection.describe()}: {preview.matched:,}.")
        if not preview.matched:
            self.stdout.write("Nothing to do: no message matches these filters.")
            return
        self.stdout.write(f"  to retry: {preview.done:,}")
        write_skips(self.stdout, preview, planned=True, send_again=options["send_again_as_new"])
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
            return
        actor = command_actor("requeue_messages")
        with progress_bar(preview.matched, "Retrying", self.stderr._out) as advance:
            report = messages_requeue(
                selection,
                actor=actor,
                batch_size=options["batch_size"],
                send_again_as_new=options["send_again_as_new"],
                progress=advance,
            )
        audit_record(
            actor=actor,
            action="messages.requeue",
            target_label=f"requeue_messages: {selection.describe()}"[:200],
            detail={"filter": selection.as_detail(), **report.as_detail()},
        )
        self.stdout.write(f"{report.done:,} message(s) queued again.")
        if report.sent_again:
            pairs = ", ".join(f"#{a} → #{b}" for a, b in list(report.sent_again.items())[:10])
            more = "…" if len(report.sent_again) > 10 else ""
            self.stdout.write(
                f"{len(report.sent_again):,} message(s) sent again as new messages: {pairs}{more}"
            )
        write_skips(self.stdout, report, planned=False, send_again=options["send_again_as_new"])
