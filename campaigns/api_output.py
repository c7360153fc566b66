"""A Campaign as the HTTP API shows it (campaigns/api_schemas.py's CampaignObject).

Everything comes from the campaign's row and its counters (kept by
campaigns/services/counters.py in the transactions that change messages), never from counting
messages or the audience: a read costs the same for ten people and for a million.
"""

from typing import Any

from django.conf import settings

from campaigns.models import Campaign
from campaigns.selectors import campaign_content, campaign_progress, campaign_rates


def campaign_object(campaign: Campaign) -> dict[str, Any]:
    progress = campaign_progress(campaign)
    return {
        "object": "campaign",
        "id": str(campaign.pk),
        "name": campaign.name,
        "status": campaign.status,
        "template": campaign.template.slug if campaign.template else None,
        "subject": campaign_content(campaign).subject,
        "from": campaign.from_email or settings.MAILHUB_DEFAULT_FROM,
        "reply_to": campaign.reply_to or None,
        "lists": sorted(lst.slug for lst in campaign.lists.all()),
        "attribute_filter": campaign.attribute_filter or {},
        "created_at": campaign.created_at,
        "scheduled_at": campaign.scheduled_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
        "progress": {
            "audience": campaign.audience_size,
            "total": progress.total,
            "queued": campaign.queued,
            "sent": campaign.sent,
            "failed": campaign.failed,
            "suppressed": campaign.suppressed,
            "cancelled": campaign.cancelled,
            "done": progress.done,
            "pending": campaign.pending,
            "percent": round(progress.percent, 1),
            "per_second": round(progress.rate, 1),
            "eta_seconds": round(progress.eta.total_seconds()) if progress.eta else None,
            "fanout_finished": campaign.fanout_finished_at is not None,
        },
        "engagement": {
            "delivered": campaign.delivered,
            "bounced": campaign.bounced,
            "opened": campaign.opened,
            "clicked": campaign.clicked,
        },
        "rates": campaign_rates(campaign),
    }
