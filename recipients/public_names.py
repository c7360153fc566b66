"""How a list is named to recipients: its own name, or for an internal list a neutral phrase.

Every public page and the confirmation email take list names from here, never from
`List.name`, so an internal list's name ("Churn risk", "Staff only") cannot leak to the people
on it or to whoever holds a forwarded link.
"""

from email.utils import parseaddr

from django.conf import settings

from recipients.models import List


def sender_name() -> str:
    """Who mail comes from, as recipients see it: MAILHUB_DEFAULT_FROM's display name, or its
    domain when it has none."""
    name, address = parseaddr(settings.MAILHUB_DEFAULT_FROM)
    return name.strip() or address.rpartition("@")[2] or "us"


def list_public_name(list: List) -> str:
    """Lower-case first for use inside a sentence; templates capitalise where needed."""
    return f"a mailing list of {sender_name()}" if list.internal else list.name


def list_public_description(list: List) -> str:
    return "" if list.internal else list.description
