"""Counting soft bounces towards a suppression, in the database, cheaply and bounded.

One SoftBounce row per soft bounce of an address (unique per event and per message, so a
duplicate counts once), kept for MAILHUB_SOFT_BOUNCE_WINDOW_DAYS. The window ends now: an
address is suppressed when it has MAILHUB_SOFT_BOUNCE_LIMIT soft bounces that happened in the
last window (by the event's time; a time in the future counts as now). Counting one address
reads its few rows through the (email, raw_event_id) index. Rows past the window are deleted
when the same address bounces again, and by the reconciler step below for the rest, so the
table holds about one window's soft bounces whatever the history.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from recipients.models import SoftBounce

# Rows the reconciler deletes per pass at most (one statement; the next pass goes on).
PURGE_BATCH = 5_000


def window_start(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.MAILHUB_SOFT_BOUNCE_WINDOW_DAYS)


def soft_bounce_count(
    *,
    email: str,
    raw_event_id: int,
    message_id: int | None,
    campaign_id: int | None,
    occurred_at: datetime,
) -> int:
    """Record one soft bounce of `email` (once per event and per message) and return how many
    it has had within the window, this one included if it is inside it."""
    now = timezone.now()
    start = window_start(now)
    SoftBounce.objects.filter(email=email, occurred_at__lt=start).delete()
    if occurred_at >= start:
        try:
            with transaction.atomic():  # a savepoint: a duplicate leaves the caller's work
                SoftBounce.objects.create(
                    email=email,
                    raw_event_id=raw_event_id,
                    message_id=message_id,
                    campaign_id=campaign_id,
                    occurred_at=min(occurred_at, now),
                )
        except IntegrityError:
            pass  # this event, or another about the same message, is already counted
    return SoftBounce.objects.filter(email=email, occurred_at__gte=start).count()


def soft_bounces_forget(*, email: str) -> None:
    """The address has been suppressed for them: after a lift, counting starts again."""
    SoftBounce.objects.filter(email=email).delete()


def soft_bounces_purge() -> dict[str, int]:
    """Reconcile step: delete soft bounces past the window, PURGE_BATCH at most per pass."""
    expired = SoftBounce.objects.filter(occurred_at__lt=window_start()).order_by("occurred_at")
    ids = list(expired.values_list("pk", flat=True)[:PURGE_BATCH])
    deleted = SoftBounce.objects.filter(pk__in=ids).delete()[0] if ids else 0
    return {"soft_bounces_purged": deleted}
