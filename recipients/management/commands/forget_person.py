"""Erase a person (the right to be forgotten), keeping only a hashed suppression."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from queueing.management.command_support import command_actor
from queueing.personal_data import StillSending
from recipients.personal_data import PersonNotFound, forget_person


class Command(BaseCommand):
    help = (
        "Erase everything held about EMAIL: recipient row, subscriptions, consent timeline, "
        "the addresses and bodies of their messages and the personal fields of their events. "
        "Mail to the address stays refused (a suppression keeps a keyed hash of it). Cannot be "
        "undone. Example: manage.py forget_person ann@example.com"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The person's email address.")

    def handle(self, *args, **options) -> None:
        try:
            report = forget_person(email=options["email"], actor=command_actor("forget_person"))
        except ValidationError as exc:
            raise CommandError(f"Not an email address: {' '.join(exc.messages)}") from None
        except PersonNotFound:
            self.stdout.write("Nothing is held about this address: nothing was changed.")
            return
        except StillSending as exc:
            raise CommandError(f"Not now: {exc}. Nothing was changed.") from None
        done = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in report.counts.items() if v)
        self.stdout.write(f"Forgotten: {done}.")
        self.stdout.write(
            f"Mail to the address stays refused: suppression {report.label[:26]}… (a keyed hash)."
        )
