"""How far event processing is behind: bounded reads on the unprocessed events' index.

The count stops at a cap (`SELECT count(*) FROM (… LIMIT cap + 1)` on webhook_unprocessed_idx),
so a large backlog costs no more than the cap; the oldest is the first entry of that index
that is still to be tried. Events whose tries are used up (waiting for
`reprocess_webhook_events`) are counted apart: they never get older "by being slow".
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from queueing.models import ProviderWebhookEvent

COUNT_CAP = 100_000


@dataclass(frozen=True)
class WebhookBacklog:
    pending: int  # unprocessed, still to be tried (at most COUNT_CAP)
    capped: bool
    given_up: int  # unprocessed, tries used up (at most COUNT_CAP)
    oldest_pending_at: datetime | None


def webhook_backlog(cap: int = COUNT_CAP) -> WebhookBacklog:
    unprocessed = ProviderWebhookEvent.objects.filter(processed_at__isnull=True).order_by()
    limit = settings.MAILHUB_EVENTS_MAX_ATTEMPTS
    to_try = unprocessed.filter(attempts__lt=limit)
    pending = to_try.values("pk")[: cap + 1].count()
    given_up = unprocessed.filter(attempts__gte=limit).values("pk")[:cap].count()
    oldest = to_try.order_by("pk").values_list("received_at", flat=True).first()
    return WebhookBacklog(min(pending, cap), pending > cap, given_up, oldest)
