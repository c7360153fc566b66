"""The people mailhub emails."""

from django.db import models
from django.db.models.functions import Lower


class Recipient(models.Model):
    """One person, identified by a normalised email address."""

    email = models.EmailField(max_length=320)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    # The id this person has in the service that owns them, for API callers.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 (unique when set)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="recipient_email_ci_unique"),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="recipient_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.email


class Suppression(models.Model):
    """An address that must not receive mail (of a scope), whoever sends it."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", "Hard bounce"
        COMPLAINT = "complaint", "Spam complaint"
        UNSUBSCRIBE = "unsubscribe", "Global unsubscribe"
        MANUAL = "manual", "Added by staff"

    class Scope(models.TextChoices):
        ALL = "all", "All mail"
        MARKETING = "marketing", "Marketing mail only"

    # Stored lower-cased (see recipients.normalise), so lookups are plain equality.
    email = models.CharField(max_length=320, unique=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.email} ({self.get_reason_display()})"
