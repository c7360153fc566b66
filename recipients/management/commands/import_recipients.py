"""python manage.py import_recipients FILE.csv --list SLUG [--report FILE] [--encoding ENC]"""

import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recipients.exceptions import ImportFileError
from recipients.imports.progress import BarProgress
from recipients.imports.service import recipients_import
from recipients.imports.tuning import short_switch_interval


class Command(BaseCommand):
    help = (
        "Import recipients from a CSV file (header row with an email column) and subscribe "
        "them to a list, created as single opt-in if missing. Sends no email. Exits non-zero "
        "only when the file itself is unusable; rejected rows go to the report file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the CSV file")
        parser.add_argument("--list", required=True, dest="list_slug", help="the list's slug")
        parser.add_argument(
            "--report",
            type=Path,
            help="where to write rejected rows (default: FILE.rejected.csv, only if any)",
        )
        parser.add_argument("--encoding", default="utf-8-sig", help="default: UTF-8")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, file: Path, list_slug: str, report: Path | None, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file} does not exist or is not a file.")
        report_path = report or file.with_name(file.name + ".rejected.csv")
        progress = None if options["no_progress"] else BarProgress(sys.stderr)
        try:
            # This process exists for the import, so the interpreter may be tuned for it.
            with (
                short_switch_interval(),
                file.open("rb") as source,
                _LazyFile(report_path) as report_file,
            ):
                summary = recipients_import(
                    file=source,
                    list_slug=list_slug,
                    filename=file.name,
                    source="command",
                    report=report_file,
                    progress=progress,
                    encoding=options["encoding"],
                )
        except ImportFileError as exc:
            raise CommandError(f"{file}: {exc} Nothing was imported.") from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except LookupError:
            raise CommandError(f"Unknown encoding {options['encoding']!r}.") from None
        self.stdout.write(self.style.SUCCESS(f"Imported {file.name}: {summary}"))
        if summary.rejected:
            self.stdout.write(
                self.style.WARNING(
                    f"{summary.rejected:,} rejected rows, with reasons: {report_path}"
                )
            )
            for line, reason in summary.first_rejections:
                self.stdout.write(self.style.WARNING(f"  line {line}: {reason}"))
            if summary.rejected > len(summary.first_rejections):
                self.stdout.write(self.style.WARNING("  ... (the rest are in the report)"))


class _LazyFile:
    """A text file created on the first write, so a clean import leaves no empty report."""

    def __init__(self, path: Path) -> None:
        self.path, self.file = path, None

    def write(self, text: str) -> int:
        if self.file is None:
            self.file = self.path.open("w", newline="", encoding="utf-8")
        return self.file.write(text)

    def __enter__(self) -> "_LazyFile":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.file is not None:
            self.file.close()
