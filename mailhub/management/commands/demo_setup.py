"""Prepare a development database for the demo: a superuser, a few messages, two lists of
people, a template, a campaign sent and one in progress (mailhub/demo_data.py). Idempotent."""

import secrets
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from campaigns.models import Campaign
from campaigns.selectors import campaign_progress
from mailhub import demo_data
from queueing.models import Message, Source
from queueing.services import message_create

DEMO_TAG = {"name": "demo", "value": "yes"}
DEMO_SUBJECT = "Welcome to mailhub, "


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo superuser, queue a few demo messages, import two lists of "
        "made-up people, and send a demo campaign to each: the first is followed until it is "
        "sent (a worker must be running), the second is left sending. Running it again adds "
        "nothing."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--password", help="Demo password (default: a new random one, printed at the end)."
        )
        parser.add_argument(
            "--newsletter-size", type=int, default=300, help="people on the sent campaign's list"
        )
        parser.add_argument(
            "--customers-size",
            type=int,
            default=12_000,
            help="people on the list of the campaign left sending (12,000: about a minute at "
            "the sandbox's 2 requests/s of 100 emails)",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=60.0,
            help="seconds to wait for the first campaign to be sent before starting the second",
        )
        parser.add_argument("--no-campaigns", action="store_true", help="users and messages only")

    def handle(self, *args, **options) -> None:
        for size in ("newsletter_size", "customers_size"):
            if not 1 <= options[size] <= 1_000_000:
                raise CommandError(f"--{size.replace('_', '-')} must be between 1 and 1,000,000.")
        if options["wait"] < 0:
            raise CommandError("--wait must be 0 or more seconds.")

        password = options["password"] or secrets.token_urlsafe(9)
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=options["username"], defaults={"email": "admin@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        if not Message.objects.filter(subject__startswith=DEMO_SUBJECT).exists():
            self._queue_demo_messages(user)
        if not options["no_campaigns"]:
            self._campaigns(user, options)

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo superuser {'created' if created else 'reset'}: "
                f"username {user.username!r}, password {password!r}"
            )
        )

    def _queue_demo_messages(self, user) -> None:
        people = [("Ada Lovelace", "ada"), ("Grace Hopper", "grace"), ("Alan Turing", "alan")]
        for name, handle in people:
            message_create(
                to=[f"{name} <{handle}@example.com>"],
                subject=f"{DEMO_SUBJECT}{name.split()[0]}",
                html=f"<h1>Welcome, {name.split()[0]}!</h1><p>This came through mailhub.</p>",
                text=f"Welcome, {name.split()[0]}! This came through mailhub.",
                tags=[DEMO_TAG],
                source=Source.COMMAND,
                created_by=user,
            )
        message_create(
            to=["team@example.com"],
            subject="Scheduled digest (sent two minutes after the demo starts)",
            text="mailhub releases scheduled messages itself when they are due.",
            scheduled_at=timezone.now() + timedelta(minutes=2),
            tags=[DEMO_TAG],
            source=Source.COMMAND,
            created_by=user,
        )
        self.stdout.write("Queued 3 demo messages and scheduled 1.")

    def _campaigns(self, user, options) -> None:
        template = demo_data.demo_template(user)
        sizes = (
            ("newsletter", "reader", "newsletter_size"),
            ("customers", "customer", "customers_size"),
        )
        lists = {}
        for slug, prefix, size in sizes:
            lists[slug], added = demo_data.demo_list(slug, prefix, options[size], user)
            if added:
                self.stdout.write(f"Imported {added:,} people into the list {slug!r}.")
        sent, started = demo_data.demo_campaign(
            demo_data.SENT_NAME, template, lists["newsletter"], user
        )
        if started:
            self.stdout.write(f"Sending {sent.name!r} to {sent.audience_size:,} people.")
            self._follow(sent, options["wait"])
        live, started = demo_data.demo_campaign(
            demo_data.LIVE_NAME, template, lists["customers"], user
        )
        if started:
            self.stdout.write(
                f"Sending {live.name!r} to {live.audience_size:,} people: watch it in the admin."
            )

    def _follow(self, campaign: Campaign, wait: float) -> None:
        """Show the campaign's progress until it is sent, for at most `wait` seconds."""
        deadline = time.monotonic() + wait
        with tqdm(total=campaign.audience_size, unit="email", file=self.stderr._out) as bar:
            while time.monotonic() < deadline:
                campaign.refresh_from_db()
                bar.n = campaign_progress(campaign).done
                bar.refresh()
                if campaign.status != Campaign.Status.SENDING:
                    break
                time.sleep(0.5)
        if campaign.status == Campaign.Status.SENDING:
            self.stdout.write(
                self.style.WARNING(
                    f"{campaign.name!r} is still sending after {wait:g} s: is a worker running "
                    "(manage.py rqworker transactional events bulk --with-scheduler)?"
                )
            )
