"""Holding a campaign's messages back from workers, and letting them go again.

The campaigns app calls these when a campaign is paused, resumed or cancelled; the claim
(queueing.claims.claimable_messages) skips held campaigns' queued messages. Frozen batches
already at the provider finish; nothing new starts once the hold commits.
"""

from django.db import transaction

from queueing.enqueue import request_drain_on_commit
from queueing.models import HeldCampaign, Priority


def campaign_hold(*, campaign_id: int, reason: str) -> None:
    """Stop claiming this campaign's messages (idempotent; the reason is updated)."""
    HeldCampaign.objects.update_or_create(campaign_id=campaign_id, defaults={"reason": reason})


def campaign_release(*, campaign_id: int) -> bool:
    """Let workers claim this campaign's messages again; asks for a bulk drain on commit.
    False if it was not held."""
    with transaction.atomic():
        deleted, _ = HeldCampaign.objects.filter(campaign_id=campaign_id).delete()
        request_drain_on_commit(Priority.BULK)
    return bool(deleted)


def held_campaign_ids() -> set[int]:
    return set(HeldCampaign.objects.values_list("campaign_id", flat=True))
