import math

from django.core.management.base import BaseCommand, CommandError

from queueing.management.commands._operator import acting_user, add_by_argument
from queueing.sending_gate import operator_pause

# A pause longer than a year is a mistake, not a plan.
MAX_MINUTES = 366 * 24 * 60


class Command(BaseCommand):
    help = (
        "Stop all sending, fleet-wide, until resume_sending (or for --minutes). Stored in the "
        "database: it survives a Redis flush. Messages wait in the queue and lose no attempts."
    )
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--reason", required=True, help="why (shown on the dashboard)")
        parser.add_argument(
            "--minutes", type=float, help="end the pause by itself after this many minutes"
        )
        add_by_argument(parser)

    def handle(self, *args, reason: str, minutes: float | None, by: str | None, **options):
        if not reason.strip():
            raise CommandError("--reason may not be empty: say why sending stops.")
        if minutes is not None and (not math.isfinite(minutes) or not 0 < minutes <= MAX_MINUTES):
            raise CommandError(f"--minutes must be more than 0 and at most {MAX_MINUTES}.")
        pause = operator_pause(reason=reason, minutes=minutes, actor=acting_user(by), via="command")
        until = f" until {pause.until:%Y-%m-%d %H:%M:%S %Z}" if pause.until else " until resumed"
        self.stdout.write(f"Sending paused{until}: {pause.reason}")
