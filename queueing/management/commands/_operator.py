"""Shared by pause_sending and resume_sending: who is acting (optional `--by USERNAME`, so
the audit log names the person; without it the command acts as the system)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError


def add_by_argument(parser) -> None:
    parser.add_argument(
        "--by",
        metavar="USERNAME",
        help="the staff user doing this, named in the audit log",
    )


def acting_user(username: str | None) -> AbstractBaseUser | None:
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"No active user named {username!r}.")
    if not user.has_perm("queueing.pause_sending"):
        raise CommandError(f"{username} may not pause or resume sending.")
    return user
