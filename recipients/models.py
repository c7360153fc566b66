"""The people mailhub emails, the lists they are on, and the addresses that must not be mailed
(one concern: the recipients data and its invariants, with the reason for each index)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.text import slugify

from recipients.normalise import MAX_EMAIL_LENGTH, canonical_email
from recipients.tokens import UNSUBSCRIBE_TOKEN_MAX_LENGTH, new_unsubscribe_token


class Source(models.TextChoices):
    """Where a subscription (or a change to it) came from."""

    IMPORT = "import", "Import"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    FORM = "form", "Form (the recipient)"


class Recipient(models.Model):
    """One person, identified by a normalised email address (see recipients.normalise)."""

    # Unique through Meta.constraints (a plain unique index: no extra LIKE index on PostgreSQL).
    email = models.EmailField(max_length=MAX_EMAIL_LENGTH)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    # The id this person has in the service that owns them, for API callers.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (unique when set)
    attributes = models.JSONField(default=dict, blank=True)
    # Random, set once at creation and never changed: the key to this person's unsubscribe
    # and preference pages, so links in mail sent months ago keep working.
    unsubscribe_token = models.CharField(
        max_length=UNSUBSCRIBE_TOKEN_MAX_LENGTH,
        default=new_unsubscribe_token,
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["email"], name="recipient_email_unique"),
            models.UniqueConstraint(fields=["unsubscribe_token"], name="recipient_token_unique"),
            # With every stored email lower-cased, the unique index on `email` is
            # case-insensitive. Rows written around the model (bulk imports, raw SQL) must
            # store the canonical form too, or uniqueness and suppression lookups would miss them.
            models.CheckConstraint(
                condition=Q(email=Lower("email")), name="recipient_email_lowercase"
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="recipient_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email = canonical_email(self.email)
        if self.external_id is not None:
            self.external_id = self.external_id.strip() or None
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def validate_list_slug(slug: str) -> None:
    """A list slug is lower-case letters, digits and "-" (what slugify leaves unchanged)."""
    if not slug or slugify(slug) != slug:
        raise ValidationError(
            {"slug": f"{slug!r} is not a valid list slug: use lower-case letters, digits and -."}
        )


class List(models.Model):
    """A mailing list people subscribe to; campaigns are sent to lists."""

    class OptIn(models.TextChoices):
        SINGLE = "single", "Single opt-in"
        DOUBLE = "double", "Double opt-in (confirmation email)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    opt_in = models.CharField(max_length=8, choices=OptIn.choices, default=OptIn.SINGLE)
    # An internal list's name and description never appear on a public page or in a
    # confirmation email (recipients.public_names): names such as "Churn risk" are for staff.
    internal = models.BooleanField(
        default=False,
        help_text="Hide this list's name and description from recipients: public pages and "
        'confirmation emails call it "a mailing list of" the sender. Its slug still appears '
        "in unsubscribe links, so give it a slug that says nothing either.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_double_opt_in(self) -> bool:
        return self.opt_in == self.OptIn.DOUBLE


class Subscription(models.Model):
    """One recipient on one list. Rows are kept after an unsubscribe, as the record of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending confirmation"
        SUBSCRIBED = "subscribed", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    # No single-column indexes: the unique (recipient, list) and the (list, status) indexes
    # lead with these columns, and every index slows bulk imports down.
    recipient = models.ForeignKey(
        Recipient, on_delete=models.CASCADE, related_name="subscriptions", db_index=False
    )
    list = models.ForeignKey(
        List, on_delete=models.CASCADE, related_name="subscriptions", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    source = models.CharField(max_length=8, choices=Source.choices)
    subscribed_at = models.DateTimeField(null=True, blank=True)
    # Set when the address owner confirmed (double opt-in) or an import vouched for them.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # When the last double opt-in confirmation email was queued: at most one per
    # MAILHUB_CONFIRMATION_RESEND_SECONDS (recipients.confirmation). Kept in the database, not
    # Redis, so a flush cannot let a burst of re-ticks mail the person again.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "list"], name="subscription_unique"),
        ]
        indexes = [
            # Fan-out, subscriber counts and the admin's list/status filters.
            models.Index(fields=["list", "status"], name="subscription_list_status_idx"),
            models.Index(fields=["status", "list"], name="subscription_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} on {self.list} ({self.get_status_display()})"

    @property
    def receives_campaigns(self) -> bool:
        if self.status != self.Status.SUBSCRIBED:
            return False
        return self.confirmed_at is not None or not self.list.is_double_opt_in


class Suppression(models.Model):
    """An address that must not receive mail (of a scope), whoever sends it."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        COMPLAINT = "complaint", "Spam complaint"
        UNSUBSCRIBE = "unsubscribe", "Global unsubscribe"
        MANUAL = "manual", "Added by staff"
        # The recipient was deleted (the API's DELETE): the address must never be mailed again
        # unless staff lift it, and its consent history stays on the timeline by address.
        DELETED = "deleted", "Recipient deleted"
        # Provider events (recipients.event_rules): MAILHUB_SOFT_BOUNCE_LIMIT soft bounces
        # within MAILHUB_SOFT_BOUNCE_WINDOW_DAYS, or Resend's own `suppressed` event.
        SOFT_BOUNCES = "soft_bounces", "Repeated soft bounces"
        PROVIDER_SUPPRESSED = "provider_suppressed", "Suppressed by the provider"

    class Scope(models.TextChoices):
        ALL = "all", "All mail"
        MARKETING = "marketing", "Marketing mail only"

    # Stored in canonical form (see recipients.normalise), so lookups are plain equality.
    email = models.CharField(max_length=320, unique=True)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The cause of a suppression made by a provider event: the stored webhook (queueing's raw
    # event table), the message and its campaign. Plain ids, not foreign keys: the raw events
    # and messages may be purged while the suppression stands, and recipients never
    # references campaigns (the layers). Empty for staff's and people's own suppressions.
    raw_event_id = models.BigIntegerField(null=True, blank=True, editable=False)
    message_id = models.BigIntegerField(null=True, blank=True, editable=False)
    campaign_id = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="suppression_created_idx")]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_reason_display()})"


class SoftBounce(models.Model):
    """One soft bounce (Transient or Undetermined) of an address, counted towards the
    soft-bounce suppression (recipients.soft_bounces). Kept only for the window: older rows are
    deleted when the address bounces again and by the reconciler, so the table holds about one
    window's soft bounces."""

    email = models.CharField(max_length=320)
    raw_event_id = models.BigIntegerField()
    message_id = models.BigIntegerField(null=True, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The same event processed twice counts once; so do two events about one message
            # (a provider may report one soft bounce more than once).
            models.UniqueConstraint(fields=["email", "raw_event_id"], name="softbounce_event_uniq"),
            models.UniqueConstraint(
                fields=["email", "message_id"],
                condition=Q(message_id__isnull=False),
                name="softbounce_message_uniq",
            ),
        ]
        # Counting one address uses the unique index above (it leads with email); the purge
        # of expired rows walks this one.
        indexes = [models.Index(fields=["occurred_at"], name="softbounce_occurred_idx")]

    def __str__(self) -> str:
        return f"soft bounce of {self.email} at {self.occurred_at:%Y-%m-%d %H:%M}"


class SuppressionReview(models.Model):
    """A provider event that would suppress someone (a bounce, a complaint, Resend's
    `suppressed`) but names several addresses without saying which one it is about. Nobody is
    suppressed by guess: staff look at it, suppress whom it concerns (Suppressions → add) and
    mark it reviewed."""

    raw_event_id = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=16)  # bounced, complained, suppressed
    # What it would have suppressed for (a soft bounce: "soft_bounces", which would only count).
    reason = models.CharField(max_length=32, choices=Suppression.Reason.choices)
    addresses = models.JSONField(default=list)
    message_id = models.BigIntegerField(null=True, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)  # bounce type, sub-type, the server's words
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at"], name="supreview_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of {', '.join(self.addresses)} (event #{self.raw_event_id})"


class SubscriptionEvent(models.Model):
    """One line of a recipient's consent timeline: what changed, why, by whom, from where."""

    class Kind(models.TextChoices):
        SUBSCRIBED = "subscribed", "Subscribed"
        CONFIRMATION_SENT = "confirmation_sent", "Confirmation email sent"
        CONFIRMED = "confirmed", "Confirmed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        SUPPRESSED = "suppressed", "Suppressed"
        UNSUPPRESSED = "unsuppressed", "Suppression removed"
        # The recipient row was deleted; one per subscription it had (its status, source and
        # dates in `detail`), one for the person: the record of consent outlives the row.
        DELETED = "deleted", "Recipient deleted"

    # Indexed by (recipient, created_at) below; list and created_by are rarely looked up, and
    # every index slows bulk imports down.
    recipient = models.ForeignKey(
        Recipient,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
    )
    # Suppressions may name an address that has no Recipient row.
    email = models.CharField(max_length=320)
    list = models.ForeignKey(
        List,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
        db_index=False,
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source = models.CharField(max_length=16, blank=True)
    detail = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="subevent_recipient_idx"),
            models.Index(fields=["email", "-created_at"], name="subevent_email_idx"),
        ]

    def __str__(self) -> str:
        where = f" ({self.list})" if self.list_id else ""
        return f"{self.get_kind_display()}{where}: {self.email}"


class ImportRun(models.Model):
    """One import: who, what file, into which list, and how it went.

    The command records a run when its import has finished. The admin's import page records
    it first, as "queued" with the upload beside it (ImportUpload); a worker then claims it
    ("running") and finishes it ("done", with the counts, or "failed", with the reason)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # Empty until the import has run: the list is created by the import, if missing.
    list = models.ForeignKey(
        List, null=True, blank=True, on_delete=models.CASCADE, related_name="imports"
    )
    list_slug = models.CharField(max_length=100, blank=True)  # the slug asked for
    filename = models.CharField(max_length=255)
    source = models.CharField(max_length=16)  # "command" or "admin"
    # Runs recorded before imports could be queued were all finished ones.
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DONE)
    encoding = models.CharField(max_length=32, default="utf-8-sig")
    size = models.PositiveBigIntegerField(default=0)  # bytes
    # Lines after the header, counted when the file was queued: what progress is shown against.
    expected_rows = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    subscribed = models.PositiveIntegerField(default=0)
    kept_unsubscribed = models.PositiveIntegerField(default=0)
    list_created = models.BooleanField(default=False)
    # Why a failed run failed (nothing of it was stored).
    error = models.TextField(blank=True)
    # The rejected rows as CSV (line, reason, the row as given), for download from the admin.
    report = models.TextField(blank=True)
    duration_seconds = models.FloatField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When its job was (last) put on the queue, and when a worker took it: the reconciler
    # queues a job again for a run waiting too long, and fails a run running too long.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        target = self.list or self.list_slug
        return f"{self.filename} → {target} ({self.created_at:%Y-%m-%d %H:%M})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ImportUpload(models.Model):
    """The file of a queued import, kept in the database so that a worker on any machine can
    read it; deleted when its run finishes. Bounded by MAILHUB_IMPORT_MAX_BYTES."""

    run = models.OneToOneField(
        ImportRun, primary_key=True, on_delete=models.CASCADE, related_name="upload"
    )
    data = models.BinaryField()

    def __str__(self) -> str:
        return f"upload of {self.run}"
