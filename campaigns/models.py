"""Templates and campaigns. Messages point at the campaign that fanned them out."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class BodyFormat(models.TextChoices):
    MJML = "mjml", "MJML"
    HTML = "html", "Plain HTML"


class Template(models.Model):
    """Reusable content: Django template syntax inside MJML or HTML, rendered per recipient."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    subject = models.CharField(max_length=998)
    body_format = models.CharField(
        max_length=8, choices=BodyFormat.choices, default=BodyFormat.MJML
    )
    body = models.TextField(help_text="MJML or HTML, with {{ variables }} and {% tags %}.")
    text_body = models.TextField(
        blank=True, help_text="Optional; a readable text version is derived from the HTML."
    )
    # Strict: a {{ variable }} that does not exist fails that recipient's message (with the
    # reason) instead of sending an email with a hole in it.
    strict_variables = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SCHEDULED = "scheduled"
        SENDING = "sending"
        PAUSED = "paused"
        SENT = "sent"
        CANCELLED = "cancelled"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    template = models.ForeignKey(
        Template, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    subject = models.CharField(
        max_length=998, blank=True, help_text="Leave empty to use the template's subject."
    )
    from_email = models.CharField(
        max_length=512, blank=True, help_text="Empty: MAILHUB_DEFAULT_FROM."
    )
    reply_to = models.CharField(max_length=512, blank=True)
    lists = models.ManyToManyField("recipients.List", blank=True, related_name="campaigns")
    attribute_filter = models.JSONField(
        default=dict,
        blank=True,
        help_text='Only recipients whose attributes match every key, e.g. {"plan": "pro"}.',
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)

    # The template as it was when sending started: later edits never reach this campaign.
    frozen_subject = models.CharField(max_length=998, blank=True, editable=False)
    frozen_format = models.CharField(
        max_length=8, choices=BodyFormat.choices, blank=True, editable=False
    )
    frozen_body = models.TextField(blank=True, editable=False)
    frozen_text = models.TextField(blank=True, editable=False)
    frozen_strict = models.BooleanField(default=True, editable=False)
    frozen_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Counters; sent/failed/suppressed change in the same transaction as the messages' status.
    audience_size = models.PositiveIntegerField(default=0, editable=False)
    queued = models.PositiveIntegerField(default=0, editable=False)
    sent = models.PositiveIntegerField(default=0, editable=False)
    failed = models.PositiveIntegerField(default=0, editable=False)
    suppressed = models.PositiveIntegerField(default=0, editable=False)
    cancelled = models.PositiveIntegerField(default=0, editable=False)
    # Statistics from Resend's webhooks (campaigns.event_stats): each message counts once per
    # kind; opened and clicked are unique (one message per person), bounced = hard + soft.
    delivered = models.PositiveIntegerField(default=0, editable=False)
    bounced = models.PositiveIntegerField(default=0, editable=False)
    bounced_hard = models.PositiveIntegerField(default=0, editable=False)
    bounced_soft = models.PositiveIntegerField(default=0, editable=False)
    complained = models.PositiveIntegerField(default=0, editable=False)
    opened = models.PositiveIntegerField(default=0, editable=False)
    clicked = models.PositiveIntegerField(default=0, editable=False)
    # People who left through this campaign's signed unsubscribe link (once per person).
    unsubscribed = models.PositiveIntegerField(default=0, editable=False)

    # Guard rails (campaigns.guard_rails): why it paused itself (cleared on resume), and a
    # finished campaign's flag, which holds the next campaign from its sending domain until
    # a manager acknowledges it.
    pause_reason = models.CharField(max_length=500, blank=True, editable=False)
    guard_flag = models.CharField(max_length=500, blank=True, editable=False)
    guard_flagged_at = models.DateTimeField(null=True, blank=True, editable=False)
    guard_acknowledged_at = models.DateTimeField(null=True, blank=True, editable=False)
    guard_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    # Fan-out progress: recipients with id <= cursor have their message; a crashed fan-out
    # resumes from here (see campaigns.reconciler).
    fanout_cursor = models.BigIntegerField(default=0, editable=False)
    fanout_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    fanout_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    fanout_finished_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The reconciler: due scheduled campaigns and unfinished fan-outs.
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status="scheduled"),
                name="campaign_scheduled_idx",
            ),
            models.Index(
                fields=["fanout_heartbeat_at"],
                condition=Q(status__in=["sending", "paused"], fanout_finished_at__isnull=True),
                name="campaign_fanout_open_idx",
            ),
            # Sending checks for open guard-rail flags: a handful of rows at most.
            models.Index(
                fields=["guard_flagged_at"],
                condition=Q(guard_flagged_at__isnull=False, guard_acknowledged_at__isnull=True),
                name="campaign_guard_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.suppressed + self.cancelled

    @property
    def pending(self) -> int:
        return max(self.queued - self.done, 0)


class CampaignLink(models.Model):
    """Clicks on one link of one campaign: every click, and people (messages) who clicked it."""

    URL_MAX = 2000  # longer links are stored cut to this length

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="links")
    url = models.CharField(max_length=URL_MAX)
    clicks = models.PositiveIntegerField(default=0)
    unique_clicks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-unique_clicks", "url"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "url"], name="campaign_link_unique")
        ]

    def __str__(self) -> str:
        return self.url


class CampaignLinkClick(models.Model):
    """One message clicked this link (at least once): what makes unique_clicks unique."""

    link = models.ForeignKey(CampaignLink, on_delete=models.CASCADE, related_name="+")
    message_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "message_id"], name="campaign_link_click_once")
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} clicked link {self.link_id}"


class CampaignUnsubscribe(models.Model):
    """A person left through this campaign's signed link: counted once per person."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    recipient_id = models.BigIntegerField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "recipient_id"], name="campaign_unsubscribe_once"
            )
        ]

    def __str__(self) -> str:
        return f"recipient {self.recipient_id} left through campaign {self.campaign_id}"


class DailyStats(models.Model):
    """The whole system's figures for one day (in settings.TIME_ZONE), kept incrementally:
    sent and failed as messages reach those statuses, the rest from provider events (each
    message once per kind) and signed unsubscribe links. Test sends are never counted."""

    FIELDS = (
        "sent", "delivered", "bounced", "complained", "opened", "clicked", "failed",
        "unsubscribed",
    )  # fmt: skip

    date = models.DateField(unique=True)
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    bounced = models.PositiveIntegerField(default=0)
    complained = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    clicked = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    unsubscribed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "daily stats"

    def __str__(self) -> str:
        return f"{self.date}"
