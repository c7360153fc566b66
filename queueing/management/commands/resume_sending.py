from django.core.management.base import BaseCommand

from queueing.management.commands._operator import acting_user, add_by_argument
from queueing.sending_gate import resume_sending


class Command(BaseCommand):
    help = "Lift the sending pause (an operator's, or the provider's quota/key pause)."
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        add_by_argument(parser)

    def handle(self, *args, by: str | None, **options) -> None:
        if resume_sending(actor=acting_user(by), via="command"):
            self.stdout.write("Sending resumed.")
        else:
            self.stdout.write("Sending was not paused.")
