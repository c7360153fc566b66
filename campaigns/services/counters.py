"""The campaign counters the worker's status changes feed, and sending → sent once every
message is final. Both run inside the transaction that changed the messages, so counters
always match rows and concurrent workers cannot both miss the finish.
"""

import functools

from django.db import connection
from django.db.models import F, Value
from django.utils import timezone

from campaigns.models import Campaign
from queueing.models import MessageStatus

Status = Campaign.Status

# Counters of messages that reached a final status: a campaign is sent when they cover queued.
FINAL_COUNTERS = ("sent", "failed", "suppressed", "cancelled")


def campaign_counters_apply(*, changes: dict[tuple[int, str], int]) -> None:
    """Add status changes to the counters; called inside the transaction that changed the
    messages (queueing.signals.campaign_messages_changed), so counters always match rows."""
    counters = {
        MessageStatus.SENT: "sent",
        MessageStatus.FAILED: "failed",
        MessageStatus.SUPPRESSED: "suppressed",
        MessageStatus.CANCELLED: "cancelled",
    }
    by_campaign: dict[int, dict[str, int]] = {}
    for (campaign_id, status), count in changes.items():
        field = counters.get(status)
        if field and count:
            added = by_campaign.setdefault(campaign_id, {})
            added[field] = added.get(field, 0) + count
    finished_at = Campaign._meta.get_field("finished_at").get_db_prep_save(
        timezone.now(), connection
    )
    with connection.cursor() as cursor:
        for campaign_id in sorted(by_campaign):  # one lock order for every worker
            added = by_campaign[campaign_id]
            counts = [added.get(f, 0) for f in FINAL_COUNTERS]
            finished = [Status.SENDING, sum(counts)]
            cursor.execute(
                _counters_sql(connection.vendor),
                [*counts, *finished, Status.SENT, *finished, finished_at, campaign_id],
            )


@functools.cache
def _counters_sql(vendor: str) -> str:
    """One statement: the counters, and sending → sent if these changes finish the campaign
    (every expression sees the row as it was before the statement, hence the added count).
    Written out once rather than as ORM expressions: compiling that Case/When/F expression
    for each batch took longer than running it."""
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(Campaign._meta.get_field(name).column)

    done = " + ".join(column(f) for f in FINAL_COUNTERS)
    finished = (
        f"{column('status')} = %s AND {column('fanout_finished_at')} IS NOT NULL "
        f"AND {column('queued')} <= {done} + %s"
    )
    counters = ", ".join(f"{column(f)} = {column(f)} + %s" for f in FINAL_COUNTERS)
    return (
        f"UPDATE {quote(Campaign._meta.db_table)} SET {counters}, "
        f"{column('status')} = CASE WHEN {finished} THEN %s ELSE {column('status')} END, "
        f"{column('finished_at')} = CASE WHEN {finished} THEN %s "
        f"ELSE {column('finished_at')} END WHERE {column('id')} = %s"
    )


def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """sending → sent once the fan-out has finished and every message is final. Evaluated on
    the (locked) row in one statement, so concurrent workers cannot both miss it."""
    done = sum((F(f) for f in FINAL_COUNTERS), Value(0))
    return bool(
        Campaign.objects.filter(
            pk=campaign_id,
            status=Status.SENDING,
            fanout_finished_at__isnull=False,
            queued__lte=done,
        ).update(status=Status.SENT, finished_at=timezone.now())
    )
