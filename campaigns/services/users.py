"""The acting user as rows store it: an anonymous user (or none, e.g. a command) is stored
as no user, so `created_by` / `sent_by` only ever name someone who signed in."""

from django.contrib.auth.models import AbstractBaseUser


def acting_user(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """A signed-in person, or None (the system; or an API key, which is no user)."""
    if isinstance(user, AbstractBaseUser) and user.is_authenticated:
        return user
    return None
