"""Make an API key from the command line; the key is printed alone on the last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from queueing.api_keys import api_key_create
from queueing.models import ApiScope
from queueing.validation import describe_error


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = (
        "Make an API key and print it (shown once) alone on the last line. Example: "
        "manage.py create_api_key --name billing --scope send --allowed-from-domain example.com"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Who uses the key.")
        parser.add_argument(
            "--scope",
            action="append",
            required=True,
            choices=ApiScope.values,
            help="Repeat for several scopes.",
        )
        parser.add_argument(
            "--allowed-from-domain",
            action="append",
            default=[],
            help="A sender domain the key may use in `from`; repeat for several.",
        )
        parser.add_argument(
            "--rate-limit", type=float, help="Requests per second for this key (default: none)."
        )

    def handle(self, *args, **options) -> None:
        try:
            made = api_key_create(
                name=options["name"],
                scopes=options["scope"],
                allowed_from_domains=options["allowed_from_domain"],
                rate_limit=options["rate_limit"],
            )
        except ValidationError as exc:
            raise CommandError(describe_error(exc)) from None
        key = made.api_key
        self.stderr.write(
            f"API key {key.name!r} ({key.prefix}…), scopes: {', '.join(key.scopes)}. "
            "Shown once; mailhub keeps only its digest."
        )
        self.stdout.write(made.secret)
