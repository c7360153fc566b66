"""python manage.py create_campaign --name NAME --subject TEXT
    (--template SLUG | --mjml-file FILE | --html-file FILE) --list SLUG [--list SLUG ...]
    [--from ADDRESS] [--reply-to ADDRESS] [--filter JSON] [--text-file FILE]

Prints the new campaign's id alone on the last line, for scripts:
    id=$(python manage.py create_campaign ... | tail -n1)
"""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.crypto import get_random_string
from django.utils.text import slugify

from campaigns.management.commands._base import command_error
from campaigns.models import BodyFormat, Template
from campaigns.services import campaign_create, template_create
from recipients.models import List


class Command(BaseCommand):
    help = "Create a draft campaign from a template (or an MJML/HTML file) and lists."
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--subject", help="required with a file; overrides a template's")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--template", metavar="SLUG")
        source.add_argument("--mjml-file", type=Path)
        source.add_argument("--html-file", type=Path)
        parser.add_argument("--text-file", type=Path, help="text body (else derived from HTML)")
        parser.add_argument("--list", dest="lists", action="append", required=True, metavar="SLUG")
        parser.add_argument("--from", dest="from_email", default="")
        parser.add_argument("--reply-to", default="")
        parser.add_argument("--filter", default="", help='attribute filter, e.g. {"plan": "pro"}')

    def handle(self, *args, **options) -> None:
        lists = self.lists(options["lists"])
        attribute_filter = self.attribute_filter(options["filter"])
        try:
            with transaction.atomic():
                template = self.template(options)
                campaign = campaign_create(
                    name=options["name"],
                    template=template,
                    lists=lists,
                    subject=(options["subject"] or "") if options["template"] else "",
                    from_email=options["from_email"],
                    reply_to=options["reply_to"],
                    attribute_filter=attribute_filter,
                )
        except ValidationError as exc:
            raise command_error(exc) from exc
        self.stdout.write(
            f"Created draft campaign {campaign.name!r} for {', '.join(lst.slug for lst in lists)}."
        )
        self.stdout.write(str(campaign.pk))

    def lists(self, slugs: list[str]) -> list[List]:
        found = {lst.slug: lst for lst in List.objects.filter(slug__in=slugs)}
        missing = [s for s in slugs if s not in found]
        if missing:
            raise CommandError(f"No list with slug {', '.join(map(repr, missing))}.")
        return list(found.values())

    def attribute_filter(self, value: str) -> dict:
        if not value:
            return {}
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--filter is not valid JSON: {exc}.") from None

    def template(self, options: dict) -> Template:
        if options["template"]:
            template = Template.objects.filter(slug=options["template"]).first()
            if template is None:
                raise CommandError(f"No template with slug {options['template']!r}.")
            return template
        path, body_format = (
            (options["mjml_file"], BodyFormat.MJML)
            if options["mjml_file"]
            else (options["html_file"], BodyFormat.HTML)
        )
        if not options["subject"]:
            raise CommandError("--subject is required with --mjml-file or --html-file.")
        body = _read(path)
        text = _read(options["text_file"]) if options["text_file"] else ""
        slug = f"{slugify(options['name'])[:80] or 'campaign'}-{get_random_string(6).lower()}"
        return template_create(
            name=options["name"],
            slug=slug,
            subject=options["subject"],
            body=body,
            body_format=body_format,
            text_body=text,
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text.") from None
