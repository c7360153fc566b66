"""What a campaign's admin page shows for its status, and the JSON its progress script polls.

Presentation only: every figure comes from campaigns.selectors (counters on the campaign row
and small statistics tables, never a count over messages, except the draft's audience size,
which is what a draft is about). campaigns/admin.py renders this; it changes nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from django.utils.safestring import SafeString

from campaigns.badges import campaign_status_badge
from campaigns.models import Campaign, CampaignLink, DailyStats
from campaigns.selectors import (
    Figure,
    Progress,
    audience_count,
    campaign_daily_stats,
    campaign_progress,
    campaign_statistics,
    campaign_top_links,
)

Status = Campaign.Status

# The permissions the campaign's controls and views need (mailhub/roles.py gives them out).
SEND = "campaigns.send_campaign"  # send, schedule, pause, resume, cancel
TEST_SEND = "campaigns.test_send"
VIEW_CAMPAIGN = "campaigns.view_campaign"  # the page, its preview and its progress JSON

# The statuses whose page follows the counters live (campaign_progress.js polls while in one).
LIVE = (Status.SENDING, Status.PAUSED, Status.SCHEDULED)
FINISHED = (Status.SENT, Status.CANCELLED)


@dataclass(frozen=True)
class Control:
    """A button on the panel: a link (GET page) or a POST form (`post`) the admin view checks
    again; `danger` asks for confirmation."""

    label: str
    url: str
    post: bool = False
    danger: bool = False


@dataclass
class Panel:
    campaign: Campaign
    progress: Progress | None = None
    audience: int | None = None  # a draft's audience, counted now
    controls: list[Control] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    links: list[CampaignLink] = field(default_factory=list)
    days: list[DailyStats] = field(default_factory=list)

    @property
    def status_badge(self) -> SafeString:
        return campaign_status_badge(self.campaign.status)

    @property
    def live(self) -> bool:
        return self.campaign.status in LIVE

    @property
    def finished(self) -> bool:
        return self.campaign.status in FINISHED


def _url(name: str, campaign: Campaign) -> str:
    return reverse(f"admin:campaigns_campaign_{name}", args=[campaign.pk])


def _controls(campaign: Campaign, user: AbstractBaseUser) -> list[Control]:
    """The buttons this user may use on this campaign now; none for what they may not do."""
    status = campaign.status
    may_send, may_test = user.has_perm(SEND), user.has_perm(TEST_SEND)
    controls = [Control("Preview", _url("preview", campaign))]  # reading: any status
    if status in (Status.DRAFT, Status.SCHEDULED):
        if may_test:
            controls.append(Control("Test send…", _url("test", campaign)))
        if may_send:
            label = "Send or schedule…" if status == Status.DRAFT else "Send now or reschedule…"
            controls.append(Control(label, _url("send", campaign)))
    if may_send and status == Status.SENDING:
        controls.append(Control("Pause", _url("pause", campaign), post=True))
    if may_send and status == Status.PAUSED:
        controls.append(Control("Resume", _url("resume", campaign), post=True))
    if may_send and status in (Status.SCHEDULED, Status.SENDING, Status.PAUSED):
        controls.append(Control("Cancel campaign", _url("cancel", campaign), True, True))
    return controls


def campaign_panel(campaign: Campaign, user: AbstractBaseUser) -> Panel:
    panel = Panel(campaign=campaign, controls=_controls(campaign, user))
    if campaign.status == Status.DRAFT:
        panel.audience = audience_count(campaign)
        return panel
    if campaign.status != Status.SCHEDULED:
        panel.progress = campaign_progress(campaign)
    if panel.finished:
        panel.figures = campaign_statistics(campaign)
        panel.links = campaign_top_links(campaign)
        panel.days = campaign_daily_stats(campaign)
    return panel


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def progress_payload(campaign: Campaign) -> dict:
    """The JSON the sending page polls (static/campaigns/campaign_progress.js)."""
    progress = campaign_progress(campaign)
    return {
        "id": campaign.pk,
        "status": campaign.status,
        "total": progress.total,
        "done": progress.done,
        "sent": campaign.sent,
        "failed": campaign.failed,
        "suppressed": campaign.suppressed,
        "cancelled": campaign.cancelled,
        "percent": round(progress.percent, 1),
        "rate": round(progress.rate, 2),
        "eta_seconds": round(progress.eta.total_seconds()) if progress.eta else None,
        "eta_text": progress.eta_text,
        "summary": progress.describe(),
        "pause_reason": campaign.pause_reason,
        "started_at": _iso(campaign.started_at),
        "finished_at": _iso(campaign.finished_at),
    }
