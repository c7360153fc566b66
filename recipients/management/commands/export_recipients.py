"""python manage.py export_recipients --list SLUG [--output FILE]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recipients.csv_export import recipients_export
from recipients.models import List


class Command(BaseCommand):
    help = "Write a list's subscribed recipients as CSV (header first) to stdout or a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--list", required=True, dest="list_slug", help="the list's slug")
        parser.add_argument("--output", type=Path, help="file to write (default: stdout)")

    def handle(self, *args, list_slug: str, output: Path | None, **options) -> None:
        target = List.objects.filter(slug=list_slug).first()
        if target is None:
            known = ", ".join(List.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(f"No list with slug {list_slug!r}. Lists: {known}.")
        if output is None:
            recipients_export(list=target, out=_Unended(self.stdout))
            return
        try:
            with output.open("w", newline="", encoding="utf-8") as out:
                count = recipients_export(list=target, out=out)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
        self.stderr.write(f"Exported {count:,} recipients of {list_slug!r} to {output}.")


class _Unended:
    """Passes CSV text to the command's stdout as is (OutputWrapper adds line endings)."""

    def __init__(self, wrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")
