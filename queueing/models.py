"""The Message table is the queue's source of truth; Redis only carries signals about it.

One concern (the queue's data and its invariants), longer than most modules because each
model's indexes are spelled out with the reason for each.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class MessageStatus(models.TextChoices):
    # Before Resend: mailhub's own queue states.
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    CANCELLED = "cancelled"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    # Resend accepted it; provider events move it on (see PROVIDER_STATUS_RANK).
    SENT = "sent"
    DELIVERY_DELAYED = "delivery_delayed"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


# A provider event moves a message only to a higher rank; late events never move it back.
PROVIDER_STATUS_RANK = {
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERY_DELAYED: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.OPENED: 4,
    MessageStatus.CLICKED: 5,
    MessageStatus.BOUNCED: 10,
    MessageStatus.COMPLAINED: 10,
    MessageStatus.FAILED: 10,
    MessageStatus.SUPPRESSED: 10,
}

# Statuses in which the message may still be sent; everything else is final for the queue.
PENDING_STATUSES = (MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.SENDING)


class Priority(models.TextChoices):
    TRANSACTIONAL = "transactional"
    BULK = "bulk"


class Source(models.TextChoices):
    ADMIN = "admin"
    COMMAND = "command"
    API = "api"
    CAMPAIGN = "campaign"
    SERVICE = "service"


class FailureCode(models.TextChoices):
    """Why a message ended as failed, for filtering and for a person deciding what to do."""

    REJECTED = "rejected", "Rejected by Resend (validation)"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted", "Attempts used up"
    EXPIRED = "expired", "Retry window (24 h) passed"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict", "Idempotency conflict: check by hand"
    WORKER_LOST = "worker_lost", "Worker lost on the last attempt"
    RENDER_ERROR = "render_error", "Could not be rendered"
    RENDER_BUDGET = "render_budget", "Over the render budget (time or size)"
    SENDER_REFUSED = "sender_refused", "Sender refused by Resend (domain or account)"
    # Resend accepted it, then reported it failed (an `email.failed` webhook). Never retried
    # under the same key: Resend would replay its first answer. Send it again as a new message.
    PROVIDER_FAILED = "provider_failed", "Failed at Resend after acceptance"


def default_max_attempts() -> int:
    return settings.MAILHUB_MAX_ATTEMPTS


class Message(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Sent with every attempt, so Resend accepts this message at most once. Unique through a
    # constraint (below), which on PostgreSQL spares the extra LIKE index `unique=True` adds.
    idempotency_key = models.CharField(max_length=256, editable=False)

    from_email = models.CharField(max_length=512)
    # The from address's domain, lower-case (queueing.addresses.sender_domain), written with
    # the row: the claim skips domains held by a SenderDomainPause without parsing addresses.
    # Not indexed: the claim reads it on rows the queued index already found.
    from_domain = models.CharField(max_length=255, blank=True, default="", editable=False)
    to = models.JSONField(default=list)
    # The first `to` address, bare and lower-case (queueing.message_addresses): what the
    # admin's address search looks up by index. Every other recipient of a message that has
    # several is a MessageAddress row; campaign messages have one recipient, so none.
    to_address = models.CharField(max_length=320, blank=True, default="", editable=False)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)

    priority = models.CharField(
        max_length=16, choices=Priority.choices, default=Priority.TRANSACTIONAL
    )
    status = models.CharField(
        max_length=20, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    failure_code = models.CharField(max_length=32, choices=FailureCode.choices, blank=True)
    last_error = models.TextField(blank=True)

    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=default_max_attempts)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)

    # A "sending" claim: who holds it, its token, and when it lapses.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_by = models.CharField(max_length=255, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    provider_id = models.CharField(max_length=255, blank=True)

    # Set once the message has been (or must be) sent on its own: attachments, a single
    # attempt already made under its own key, or a batch Resend refused as a whole.
    send_alone = models.BooleanField(default=False)
    # Set once the message is frozen into a batch: from then on it is only ever sent as part
    # of that batch (same members, same body, same key), never alone.
    batch = models.ForeignKey(
        "SendBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        db_index=False,  # indexed only while in flight (Meta.indexes)
        # No database constraint: without an index on all members, checking it would scan
        # the message table for every batch row the purge deletes. The purge lets the
        # members go first (queueing/retention/passes.py); the claims write both together.
        db_constraint=False,
    )
    # Campaign messages are rendered by the worker just before their first send
    # (see queueing.rendering); the rendered subject and bodies are then stored here.
    needs_render = models.BooleanField(default=False)
    # Test sends of a campaign: never counted in its statistics.
    is_test = models.BooleanField(default=False)

    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SERVICE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # indexed only where set (Meta.indexes): campaigns never set it
    )
    # The API key that queued it (HTTP API only); a key sees only its own messages.
    api_key = models.ForeignKey(
        "ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # indexed only where set (Meta.indexes), like created_by
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    recipient = models.ForeignKey(
        "recipients.Recipient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When retention blanked its bodies, headers and attachments (queueing/retention/), or
    # forget_person erased it; the purge's marker, so it does not take a row twice.
    content_purged_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="message_idempotency_key"),
            # Fan-out is idempotent: one message per campaign and person, whatever happens.
            models.UniqueConstraint(
                fields=["campaign", "recipient"],
                condition=Q(campaign__isnull=False, recipient__isnull=False, is_test=False),
                name="message_one_per_campaign_recipient",
            ),
        ]
        indexes = [
            # Worker and reconciler: due queued rows, transactional first.
            models.Index(
                fields=["priority", "send_alone", "id"],
                condition=Q(status="queued", batch__isnull=True),
                name="message_queued_idx",
            ),
            # Leases of messages held alone (a batch member's lease is its batch's).
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending", lease_expires_at__isnull=False),
                name="message_sending_lease_idx",
            ),
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status="scheduled"),
                name="message_scheduled_due_idx",
            ),
            # Batch members, only while their batch is in flight.
            models.Index(
                fields=["batch"],
                condition=Q(batch__isnull=False, status__in=["queued", "sending"]),
                name="message_batch_inflight_idx",
            ),
            models.Index(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="message_creator_idx",
            ),
            # The API's list of a key's own messages, newest first (GET /emails).
            models.Index(
                fields=["api_key", "-id"],
                condition=Q(api_key__isnull=False),
                name="message_api_key_idx",
            ),
            # Admin: newest first; the final statuses other than "sent" that people look for.
            # (Every index costs each row update of a send; a (status, …) index on all rows
            # would be rewritten at every step of every message.)
            models.Index(fields=["-created_at"], name="message_created_idx"),
            models.Index(
                fields=["status", "-created_at"],
                condition=Q(status__in=["failed", "suppressed", "cancelled"]),
                name="message_problem_idx",
            ),
            # The admin's address search: exact match, newest first, one ordered index scan.
            models.Index(fields=["to_address", "-created_at"], name="message_to_address_idx"),
            # Webhook lookups by Resend's id.
            models.Index(
                fields=["provider_id"], condition=~Q(provider_id=""), name="message_provider_idx"
            ),
            # The retention's blank pass walks the rows not yet blanked by id; rows blanked by
            # earlier runs drop out (content_purged_at is set once, so sends' updates are
            # unaffected beyond the insert).
            models.Index(
                fields=["id"],
                condition=Q(content_purged_at__isnull=True),
                name="message_unpurged_idx",
            ),
        ]

    def __str__(self) -> str:
        to = ", ".join(self.to[:2]) + ("…" if len(self.to) > 2 else "")
        return f"#{self.pk} {self.subject[:60]} → {to}"


class MessageAddress(models.Model):
    """A recipient of a message other than its first `to` (the rest of `to`, cc, bcc), bare
    and lower-case: with Message.to_address, what the admin's address search finds by index.
    Written with the message (queueing.services); only messages with several recipients have
    rows, so a campaign's fan-out writes none."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+", db_index=False)
    address = models.CharField(max_length=320)

    class Meta:
        indexes = [
            models.Index(fields=["address", "message"], name="message_address_idx"),
            # Deleting messages (retention, forget_person) finds their rows by message.
            models.Index(fields=["message"], name="message_address_message_idx"),
        ]

    def __str__(self) -> str:
        return self.address


class BatchStatus(models.TextChoices):
    QUEUED = "queued"  # frozen, waiting for its (next) call
    SENDING = "sending"  # a worker holds it
    DONE = "done"  # Resend answered for every member
    FAILED = "failed"  # given up; its members failed with it
    SPLIT = "split"  # refused as a whole (definite 4xx): members are sent alone instead


class SendBatch(models.Model):
    """Up to 100 messages frozen into one /emails/batch request.

    Members, their order and the key are fixed before the first call, and so is each
    member's content (rendered and stored on its row in the same transaction). The request
    body is built from those rows alone (queueing.resend.payload), so every attempt is the
    same request: after an unclear outcome the same members go again, byte for byte, under
    the same key. (Resend would refuse a changed body under a used key with a 409.)
    """

    idempotency_key = models.CharField(max_length=256, unique=True, editable=False)
    priority = models.CharField(max_length=16, choices=Priority.choices)
    status = models.CharField(max_length=16, choices=BatchStatus.choices)
    # Message ids in request order: item i of the body (and of Resend's answer) is member_ids[i].
    member_ids = models.JSONField(default=list)
    size = models.PositiveSmallIntegerField()
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=default_max_attempts)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_by = models.CharField(max_length=255, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["priority", "next_attempt_at"],
                condition=Q(status="queued"),
                name="batch_queued_due_idx",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="batch_sending_lease_idx",
            ),
            # The retention's batch pass: where its walk stops (set once, at insert).
            models.Index(fields=["created_at"], name="batch_created_idx"),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk} ({self.size} emails, {self.status})"


class HeldCampaign(models.Model):
    """A campaign whose messages workers must not claim now (paused or cancelled).

    Written by queueing.holds on the campaigns app's request, read by the claim (a small
    table, looked up once per claim statement), so queueing never reads campaign rows. Test
    sends are never held."""

    campaign_id = models.BigIntegerField(unique=True)
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} held ({self.reason})"


class SenderDomainPause(models.Model):
    """Messages from this domain are not claimed: Resend refused the domain as a sender (not
    verified, testing mode), and each further message would meet the same refusal.

    Written by queueing.sender_pauses when the refusal is recorded, lifted there by staff (the
    admin's "lift" action); kept in the database because Redis may be flushed. A lifted row
    stays as the record of what happened; at most one row per domain is active."""

    domain = models.CharField(max_length=255)
    reason = models.TextField()
    # The message whose refusal started the pause (no foreign key: messages may be purged).
    message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(lifted_at__isnull=True),
                name="sender_domain_pause_active",
            )
        ]

    def __str__(self) -> str:
        state = "lifted" if self.lifted_at else "paused"
        return f"{self.domain} ({state})"


class OperatorPause(models.Model):
    """A person stopped all sending (`pause_sending`, the dashboard), until a time or until
    someone resumes it. Kept in the database because Redis may be flushed: an operator's
    "stop" must survive that. (The provider's automatic pauses, quota and key, stay in Redis:
    they end by themselves.) Read by queueing.sending_gate, cached a second per process; a
    lifted row stays as the record of what happened."""

    reason = models.CharField(max_length=500)
    until = models.DateTimeField(null=True, blank=True)  # none: until someone resumes
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The gate's read: the pauses not lifted (none or one row).
            models.Index(
                fields=["-created_at"],
                condition=Q(lifted_at__isnull=True),
                name="operator_pause_active_idx",
            )
        ]

    def __str__(self) -> str:
        return f"sending paused: {self.reason}"


class MessageAttachment(models.Model):
    """A stored attachment; kept in the database so a message and its files commit together."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, blank=True)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.size} bytes)"


class EventKind(models.TextChoices):
    CREATED = "created"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    ATTEMPT = "attempt"
    SENT = "sent"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    PAUSED = "paused"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"
    LEASE_EXPIRED = "lease_expired"
    PROVIDER = "provider"
    BATCHED = "batched"
    SPLIT = "split"
    # A finished message copied into a new one (queueing.send_again), on both timelines.
    SENT_AGAIN = "sent_again"


class MessageEvent(models.Model):
    """One line of a message's timeline; kept whatever it did to the status."""

    # Looked up through event_message_idx, whose first column is the message.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    # For provider events: Resend's event type, e.g. "email.delivered".
    provider_event = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["message", "created_at"], name="event_message_idx"),
            # Every batch sent looks up its members' provider events (webhooks that came
            # while a worker held them: provider_events.ranking.reapply_after_sent). Almost
            # always there are none; this index answers that from provider events only,
            # where the one above walks each message's whole timeline, or the planner scans.
            models.Index(
                fields=["message"],
                name="event_provider_message_idx",
                condition=models.Q(kind="provider"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.detail[:60]}"


class ApiScope(models.TextChoices):
    SEND = "send", "Send and read its own emails"
    RECIPIENTS = "recipients", "Manage recipients and subscriptions"
    CAMPAIGNS = "campaigns", "Read and run campaigns"


class ApiKey(models.Model):
    """A key another service sends with `Authorization: Bearer …`.

    The key itself is shown once, when it is made; only its SHA-256 digest is kept, with a
    short prefix people can recognise it by in lists and logs."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    # Sender domains this key may use in `from`; empty means the fleet-wide setting decides.
    allowed_from_domains = models.JSONField(default=list, blank=True)
    # Requests per second this key may make; None means no limit of its own.
    rate_limit = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        state = " (revoked)" if self.revoked_at else ""
        return f"{self.name} [{self.prefix}…]{state}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress"
    DONE = "done"


class ApiIdempotencyKey(models.Model):
    """An `Idempotency-Key` the HTTP API has seen, kept 24 hours (in the database: Redis may
    be flushed). The unique (api_key, key) constraint decides which of two requests at once
    owns the key; the answer is stored in the transaction that creates the messages, so a
    stored answer always has its messages and an interrupted request leaves none."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=256)
    # Method, path and SHA-256 of the exact body (queueing.resend.idempotency.fingerprint).
    fingerprint = models.CharField(max_length=400)
    state = models.CharField(max_length=16, choices=IdempotencyState.choices)
    # Which request holds an in-progress key; the answer is stored only under this token.
    token = models.UUIDField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="api_idempotency_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="api_idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class ProviderWebhookEvent(models.Model):
    """A provider's webhook as it arrived (verified), stored once per svix-id before anything
    is done with it: the endpoint answers as soon as it is stored, and workers apply it later
    (queueing.provider_events). Kept after processing, for inspection and reprocessing."""

    svix_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=64, blank=True)
    body = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Its message once processing found it (none: an email mailhub does not know).
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The last processing error; such an event waits for `reprocess_webhook_events` once its
    # attempts are used up.
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = "provider webhook event"
        ordering = ["-id"]
        indexes = [
            # The processing job and the reconciler: unprocessed events, oldest first.
            models.Index(
                fields=["id"],
                condition=Q(processed_at__isnull=True),
                name="webhook_unprocessed_idx",
            ),
            # The retention's webhook pass: where its walk over processed events stops.
            models.Index(
                fields=["received_at"],
                condition=Q(processed_at__isnull=False),
                name="webhook_processed_received_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type or 'event'} {self.svix_id}"


# Webhook endpoints of API keys and their deliveries live with the forwarding code.
from queueing.forwarding.models import (  # noqa: E402, F401
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
