"""Prepare a development database for the demo: a superuser and a few messages to look at."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from queueing.models import Message, Source
from queueing.services import message_create

DEMO_TAG = {"name": "demo", "value": "yes"}
DEMO_SUBJECT = "Welcome to mailhub, "


class Command(BaseCommand):
    help = "Create (or reset) the demo superuser and queue a few demo messages. Idempotent."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--password", help="Demo password (default: a new random one, printed at the end)."
        )

    def handle(self, *args, **options) -> None:
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
