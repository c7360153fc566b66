"""What the queue's operations commands share: who acts (a named command actor for the
audit log), the message filter options, and the progress bar."""

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from audit.services import NamedActor
from queueing.bulk_actions import SKIP_REASONS, BulkReport
from queueing.message_filters import FilterError, MessageFilter, build_filter
from queueing.models import FailureCode


def command_actor(command: str) -> NamedActor:
    """The person behind a command, as far as the machine knows them: the audit log records
    "command requeue_messages (alice)"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        user = "unknown user"
    return NamedActor(f"command {command} ({user})")


def add_filter_arguments(parser: CommandParser, statuses: tuple[str, ...]) -> None:
    parser.add_argument(
        "--status",
        action="append",
        dest="statuses",
        metavar="STATUS",
        help=f"Messages in this status ({', '.join(statuses)}; default: all of them). Repeat "
        "for several.",
    )
    parser.add_argument("--campaign", type=int, help="Only this campaign's messages (its id).")
    parser.add_argument(
        "--since",
        help="Only messages created since: a duration back from now (90m, 24h, 7d) or an ISO "
        "date or time (2026-01-31, 2026-01-31T12:00+00:00).",
    )
    parser.add_argument(
        "--failure-code",
        action="append",
        dest="failure_codes",
        metavar="CODE",
        help=f"Only failed messages with this code ({', '.join(FailureCode.values)}). Repeat "
        "for several.",
    )
    parser.add_argument(
        "--error-contains", metavar="TEXT", help="Only messages whose last error holds TEXT."
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="Count and show what would be done; change nothing."
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="Messages read per batch (each message is then changed in its own transaction).",
    )


def filter_from_options(options: dict, statuses: tuple[str, ...]) -> MessageFilter:
    if not 1 <= options["batch_size"] <= 10_000:
        raise CommandError("--batch-size must be between 1 and 10000.")
    try:
        return build_filter(
            statuses=options["statuses"],
            allowed=statuses,
            campaign=options["campaign"],
            since=options["since"],
            failure_codes=options["failure_codes"],
            error_contains=options["error_contains"],
        )
    except FilterError as exc:
        raise CommandError(str(exc)) from None


@contextmanager
def progress_bar(total: int, description: str, stream=None) -> Iterator[Callable[[int], None]]:
    """A tqdm bar on stderr; yields the function that advances it."""
    bar = tqdm(
        total=total, desc=description, unit="msg", file=stream or sys.stderr, dynamic_ncols=True
    )
    try:
        yield bar.update
    finally:
        bar.close()


# Skips that --send-again-as-new turns into new messages instead (requeue_messages).
SENT_AGAIN_SKIPS = ("provider_failed", "past_retry_window")


def write_skips(out, report: BulkReport, *, planned: bool, send_again: bool = False) -> None:
    """What a bulk command skipped (or, `planned`, will skip) and why, with example ids."""
    for reason, count in report.skipped.most_common():
        if planned and send_again and reason in SENT_AGAIN_SKIPS:
            out.write(f"  to send again as new messages ({reason}): {count:,}")
            continue
        ids = report.examples.get(reason)
        shown = f" (e.g. #{', #'.join(map(str, ids))})" if ids else ""
        verb = "to skip" if planned else "skipped"
        out.write(f"  {verb}: {count:,} {SKIP_REASONS[reason]}{shown}")
