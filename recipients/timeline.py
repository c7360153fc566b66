"""Recording one line of the consent timeline (a SubscriptionEvent).

Its own module because both the services and the double opt-in confirmation record events:
with the recording here, `services` imports `confirmation` and neither imports the other back.
"""

from django.contrib.auth.models import AbstractBaseUser

from recipients.models import List, Recipient, SubscriptionEvent


def event_record(
    *,
    kind: str,
    email: str,
    recipient: Recipient | None = None,
    list: List | None = None,
    source: str = "",
    detail: str = "",
    created_by: AbstractBaseUser | None = None,
) -> SubscriptionEvent:
    """Add one event; `created_by` is kept only for a signed-in user."""
    return SubscriptionEvent.objects.create(
        kind=kind,
        email=email,
        recipient=recipient,
        list=list,
        source=source[:16],
        detail=detail,
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
    )
