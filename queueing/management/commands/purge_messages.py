"""Retention: blank old messages' bodies and attachments, delete rows past the longer age,
and clear finished batches, processed webhooks and expired API idempotency records."""

import os
import socket

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from queueing.management.command_support import progress_bar
from queueing.message_filters import FilterError, parse_duration
from queueing.retention.lock import PurgeLock, PurgeLocked
from queueing.retention.passes import PASSES, count, run_pass
from queueing.retention.policy import policy


class Command(BaseCommand):
    help = (
        "Purge old data in small batches: blank bodies, headers and attachments of messages "
        "older than --older-than (rows, events and counters stay); with --delete, delete "
        "messages older than MAILHUB_PURGE_DELETE_AFTER (or --delete-older-than, never "
        "younger). Finished send batches, processed webhook events and API idempotency "
        "records past 24 h go in passes of their own; suppressions are never purged. "
        "Example: manage.py purge_messages --older-than 90d --dry-run"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            help=f"Blank messages older than this (default MAILHUB_PURGE_AFTER, "
            f"{settings.MAILHUB_PURGE_AFTER}): 90d, 12w, 2160h.",
        )
        parser.add_argument(
            "--delete",
            action="store_true",
            help="Also delete whole messages (timeline and attachments) older than "
            f"MAILHUB_PURGE_DELETE_AFTER ({settings.MAILHUB_PURGE_DELETE_AFTER}).",
        )
        parser.add_argument(
            "--delete-older-than",
            help="With --delete: a longer age than MAILHUB_PURGE_DELETE_AFTER (never shorter).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what each pass would take; change nothing.",
        )

    def handle(self, *args, **options) -> None:
        if options["delete_older_than"] and not options["delete"]:
            raise CommandError("--delete-older-than only goes with --delete.")
        try:
            rules = policy(
                older_than=_age(options["older_than"], "--older-than"),
                delete=options["delete"],
                delete_older_than=_age(options["delete_older_than"], "--delete-older-than"),
            )
        except FilterError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Blanking messages created before {rules.blank_before:%Y-%m-%d %H:%M %Z}; "
            + (
                f"deleting those created before {rules.delete_before:%Y-%m-%d %H:%M %Z}."
                if rules.delete_before
                else "deleting none."
            )
        )
        owner = f"command purge_messages on {socket.gethostname()} (pid {os.getpid()})"
        try:
            with PurgeLock(owner) as lock:
                self._passes(rules, lock, dry_run=options["dry_run"])
        except PurgeLocked as exc:
            raise CommandError(f"Not purging: {exc}.") from None
        except redis.RedisError as exc:
            raise CommandError(
                f"Not purging: Redis, which holds the purge lock, is unreachable ({exc})."
            ) from None

    def _passes(self, rules, lock: PurgeLock, *, dry_run: bool) -> None:
        out = self.stdout
        for p in PASSES:
            if p.candidates(rules) is None:
                continue
            total = count(p, rules)
            if dry_run:
                out.write(f"  {p.name}: {total:,} would be {p.label.split()[-1]}")
                continue
            if not total:
                out.write(f"  {p.name}: nothing to do")
                continue
            with progress_bar(total, p.name, self.stderr._out) as advance:

                def after_batch(n: int) -> None:
                    advance(n)
                    lock.renew()

                result = run_pass(p, rules, after_batch=after_batch)
            also = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in result.also.items() if v)
            out.write(
                f"  {p.name}: {result.rows:,} {p.label} in {result.batches} batch(es)"
                + (f" ({also})" if also else "")
            )
        if dry_run:
            out.write("Dry run: nothing was changed.")


def _age(value: str | None, option: str):
    if value is None:
        return None
    try:
        return parse_duration(value, option)
    except FilterError as exc:
        raise CommandError(str(exc)) from None
