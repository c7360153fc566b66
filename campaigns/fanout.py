"""Fan-out: one queued Message per eligible recipient, in chunks, resumable.

Each chunk is its own transaction: take the campaign's fan-out lock (so two runs of the same
fan-out take turns, never the same chunk twice at once), take the next recipients after the
saved cursor (keyset pagination by id, never the whole audience in memory), insert their
messages with "on conflict do nothing" semantics, then advance the cursor and the counters in
one conditional UPDATE of the campaign row, and commit. A run that dies loses at most its
open chunk, which the next run (see campaigns.reconciler) redoes; the unique
(campaign, recipient) constraint makes any overlap harmless.

The fan-out lock is not the campaign row: workers update that row (counters) with every batch
they record, and must not wait for a chunk being written. The row is locked only by the final
UPDATE; if the campaign was cancelled meanwhile, the chunk is rolled back instead.
"""

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import audience_chunk_end, campaign_audience
from campaigns.services import campaign_finish_if_done
from queueing.fanout import messages_fan_out
from queueing.models import Message, Priority, Source
from queueing.validation import validate_sender

ACTIVE = (Campaign.Status.SENDING, Campaign.Status.PAUSED)


def chunk_size() -> int:
    # Big chunks are cheaper per row (fewer statements and commits); they hold no lock that
    # workers wait for (see lock_fanout), and the rows travel server-side on PostgreSQL.
    return settings.MAILHUB_CAMPAIGN_FANOUT_CHUNK


# The first chunk is small and each next one twice as big, up to chunk_size(): the first
# messages are ready (and a worker sending) within a fraction of a second instead of after
# a whole big chunk, while most rows still go in big chunks.
FIRST_CHUNK = 1_000


def fanout_run(*, campaign_id: int, chunk: int | None = None) -> int:
    """Run (or resume) the fan-out to its end; returns how many messages this run added."""
    largest = chunk or chunk_size()
    chunk = min(FIRST_CHUNK, largest)
    added = 0
    while True:
        with transaction.atomic():
            lock_fanout(campaign_id)
            campaign = Campaign.objects.filter(pk=campaign_id).first()
            if campaign is None or campaign.status not in ACTIVE or campaign.fanout_finished_at:
                return added  # cancelled, finished, or finished by another run
            now = timezone.now()
            cursor, inserted, finished = write_chunk(campaign, chunk)
            updates = {"fanout_heartbeat_at": now, "queued": F("queued") + inserted}
            if campaign.fanout_started_at is None:
                updates["fanout_started_at"] = now
            updates["fanout_cursor"] = cursor
            if finished:
                updates["fanout_finished_at"] = now
            if not Campaign.objects.filter(pk=campaign_id, status__in=ACTIVE).update(**updates):
                # Cancelled while this chunk was written: its cancel sweep cannot see these
                # rows, so they must not exist.
                transaction.set_rollback(True)
                return added
            added += inserted
            chunk = min(2 * chunk, largest)
            if finished:
                # The audience may have shrunk since it was counted: the real size is what
                # was queued. Everything may even be sent already.
                Campaign.objects.filter(pk=campaign_id).update(audience_size=F("queued"))
                campaign_finish_if_done(campaign_id=campaign_id)
                return added


FANOUT_LOCK_SPACE = 0x6D68  # advisory lock namespace ("mh"); the second key is the campaign id


def lock_fanout(campaign_id: int) -> None:
    """Held until the chunk's transaction ends. On SQLite every write transaction is already
    exclusive (IMMEDIATE), which serialises fan-out runs the same way."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [FANOUT_LOCK_SPACE, campaign_id])


def write_chunk(campaign: Campaign, size: int) -> tuple[int, int, bool]:
    """Queue the next chunk's messages through queueing: (the new cursor, rows inserted,
    whether the audience is done).

    The chunk is a range of recipient ids, (cursor, end], that holds at most `size`
    subscriptions to the campaign's lists: both the audience query and its subscription
    lookup then read that range only, so a chunk costs the same at the millionth recipient as
    at the first (a LIMIT alone made PostgreSQL hash every subscription for every chunk)."""
    after = campaign.fanout_cursor
    end = audience_chunk_end(campaign, after=after, size=size)
    seen, last_id, inserted = messages_fan_out(
        prototype=message_prototype(campaign),
        recipients=campaign_audience(campaign, after=after, upto=end),
        size=size,
        key_prefix=idempotency_key(campaign.pk, ""),
    )
    if seen >= size:
        # Cut by the LIMIT: people subscribed in the range since its end was looked for. The
        # next chunk goes on from the last row written, so nobody in the range is skipped.
        return last_id, inserted, False
    if end is not None:
        return end, inserted, False
    return last_id or after, inserted, True  # the rest of the audience was in this chunk


def message_prototype(campaign: Campaign) -> Message:
    """What every message of the campaign shares; recipient, to, uuid and key are per row."""
    return Message(
        from_email=validate_sender(campaign.from_email or settings.MAILHUB_DEFAULT_FROM),
        to=[],
        reply_to=[campaign.reply_to] if campaign.reply_to else [],
        # The raw subject; the worker renders it with the body just before the first send.
        subject=campaign.frozen_subject[:998],
        html="",
        text="",
        needs_render=True,
        priority=Priority.BULK,
        source=Source.CAMPAIGN,
        campaign_id=campaign.pk,
        created_by_id=campaign.sent_by_id,
        max_attempts=settings.MAILHUB_MAX_ATTEMPTS,
    )


def idempotency_key(campaign_id: int, recipient_id: int | str) -> str:
    return f"mailhub-campaign-{campaign_id}-{recipient_id}"
