"""Following the queue and the unsubscribe links: message status changes feed the campaign
counters and the system's daily figures; signed unsubscribe links feed campaign statistics."""

import logging

from django.dispatch import receiver
from django.utils import timezone

from campaigns.services import campaign_counters_apply
from campaigns.services.statistics import campaign_unsubscribe_record, daily_stats_add
from queueing.live_rates import live_rates_add_on_commit
from queueing.models import MessageStatus
from queueing.signals import campaign_messages_changed, messages_changed
from recipients.attribution import link_unsubscribed

log = logging.getLogger(__name__)

# Status → the daily figure and live rate it feeds.
DAILY_STATUSES = {MessageStatus.SENT: "sent", MessageStatus.FAILED: "failed"}


@receiver(campaign_messages_changed, dispatch_uid="campaigns.counters")
def count_campaign_messages(sender, changes, **kwargs) -> None:
    campaign_counters_apply(changes=changes)


@receiver(messages_changed, dispatch_uid="campaigns.daily_stats")
def count_daily_messages(sender, changes, **kwargs) -> None:
    """Connected after the campaign counters: campaign rows, then the day's row, the lock
    order every writer of statistics keeps."""
    counts = {DAILY_STATUSES[s]: n for s, n in changes.items() if s in DAILY_STATUSES and n > 0}
    if counts:
        daily_stats_add(day=timezone.localdate(), counts=counts)
        live_rates_add_on_commit(counts)


@receiver(link_unsubscribed, dispatch_uid="campaigns.unsubscribes")
def count_unsubscribe(sender, recipient, campaign_id, **kwargs) -> None:
    if campaign_id is None:
        return
    try:
        campaign_unsubscribe_record(campaign_id=campaign_id, recipient_id=recipient.pk)
    except Exception:  # the person is unsubscribed already; a lost figure must not undo that
        log.exception(
            "unsubscribe of recipient %s not counted for campaign %s", recipient.pk, campaign_id
        )
