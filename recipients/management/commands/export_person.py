"""Everything held about a person, as JSON (the right of access)."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from recipients.personal_data import PersonNotFound, export_person


class Command(BaseCommand):
    help = (
        "Write everything held about EMAIL as JSON: recipient, subscriptions, consent "
        "timeline, suppressions, soft bounces, messages (envelope, subject, outcome; no "
        "bodies) with their timelines, raw webhook events. Example: manage.py export_person "
        "ann@example.com --output ann.json"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The person's email address.")
        parser.add_argument("--output", type=Path, help="Write to this file (default: stdout).")
        parser.add_argument(
            "--max-messages",
            type=int,
            default=10_000,
            help="At most this many messages, the newest (the export says when it is cut).",
        )

    def handle(self, *args, **options) -> None:
        if options["max_messages"] < 1:
            raise CommandError("--max-messages must be at least 1.")
        output: Path | None = options["output"]
        if output is not None and output.exists():
            raise CommandError(f"--output {output}: the file exists; choose another name.")
        try:
            data = export_person(email=options["email"], max_messages=options["max_messages"])
        except ValidationError as exc:
            raise CommandError(f"Not an email address: {' '.join(exc.messages)}") from None
        except PersonNotFound:
            self.stderr.write("Nothing is held about this address.")
            return
        text = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        if output is None:
            self.stdout.write(text)
            return
        try:
            with output.open("x", encoding="utf-8") as file:
                file.write(text + "\n")
        except OSError as exc:
            raise CommandError(f"--output {output}: {exc.strerror}.") from None
        self.stdout.write(f"Written to {output}.")
