"""A campaign's status as the admin's shared badge (queueing/badges.py): the same pill, text
and colours as a message's, on the campaign list, its page and the dashboard."""

from django.utils.safestring import SafeString

from campaigns.models import Campaign
from queueing.badges import badge

Status = Campaign.Status

CAMPAIGN_TONES = {
    Status.DRAFT: "neutral",
    Status.SCHEDULED: "info",
    Status.SENDING: "progress",
    Status.PAUSED: "warning",
    Status.SENT: "success",
    Status.CANCELLED: "muted",
}


def campaign_status_badge(status: str) -> SafeString:
    label = Status(status).label if status in Status.values else status
    return badge(label, CAMPAIGN_TONES.get(status, "neutral"))
