"""Following the queue: message status changes feed the campaign counters."""

from django.dispatch import receiver

from campaigns.services import campaign_counters_apply
from queueing.signals import campaign_messages_changed


@receiver(campaign_messages_changed, dispatch_uid="campaigns.counters")
def count_campaign_messages(sender, changes, **kwargs) -> None:
    campaign_counters_apply(changes=changes)
