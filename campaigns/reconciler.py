"""The campaigns part of queueing's reconciler pass: start campaigns whose time has come and
resume fan-outs that stopped (worker killed, Redis flushed). Both are safe to run from several
workers at once: starting is a conditional update, and a fan-out resumes from its saved cursor
under a lock on the campaign row, so two runs of it never add a message twice."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from campaigns import services
from campaigns.enqueue import enqueue_fanout
from campaigns.models import Campaign


@dataclass
class CampaignReconcileReport:
    started: int = 0
    fanouts_resumed: int = 0

    def __bool__(self) -> bool:
        return bool(self.started or self.fanouts_resumed)


def stall_seconds() -> float:
    # A running fan-out beats its heartbeat after every chunk (well under a second).
    return settings.MAILHUB_CAMPAIGN_FANOUT_STALL_SECONDS


def resume_stalled_fanouts() -> int:
    """Enqueue again every unfinished fan-out whose heartbeat is older than the stall time
    (or that never started: its job was lost before a worker took it)."""
    cutoff = timezone.now() - timedelta(seconds=stall_seconds())
    stalled = Campaign.objects.filter(
        status__in=(Campaign.Status.SENDING, Campaign.Status.PAUSED),
        fanout_finished_at__isnull=True,
    ).filter(
        Q(fanout_heartbeat_at__lt=cutoff)
        | Q(fanout_heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    resumed = 0
    for campaign_id in stalled.values_list("pk", flat=True)[:100]:
        # Mark it so the next pass does not enqueue it again before the job starts.
        Campaign.objects.filter(pk=campaign_id).update(fanout_heartbeat_at=timezone.now())
        resumed += enqueue_fanout(campaign_id)
    return resumed


def reconcile_campaigns() -> CampaignReconcileReport:
    """One pass (see docs/CAMPAIGNS.md)."""
    return CampaignReconcileReport(
        started=services.campaigns_start_due(), fanouts_resumed=resume_stalled_fanouts()
    )


def reconcile_step() -> dict[str, int]:
    """The campaigns step of every queueing reconciler pass (registered in CampaignsConfig)."""
    report = reconcile_campaigns()
    return {"campaigns_started": report.started, "fanouts_resumed": report.fanouts_resumed}
