"""Badges: a word in a coloured pill, the same in every admin page (lists, pages, dashboard).

A badge always carries its text, so the colour only repeats what the word says (readable
in dark mode, by colour-blind people and by screen readers). The look is
`static/mailhub/badges.css` (light and dark); pages add it through `BADGE_MEDIA` (a
ModelAdmin's Media) or `{% load mailhub_badges %}{% badge_css %}`. Any app may use it:
`badge("Sent", "success")` in Python, `{% badge label tone %}` in a template.
"""

from django.utils.html import format_html
from django.utils.safestring import SafeString

from queueing.models import BatchStatus, EventKind, MessageStatus

# The tones the stylesheet defines.
TONES = ("neutral", "info", "progress", "success", "warning", "danger", "muted")
BADGE_CSS = "mailhub/badges.css"
# The progress bar the dashboard and a campaign's page share (a stylesheet only: no Python).
PROGRESS_CSS = "mailhub/progress.css"
BADGE_MEDIA = {"all": [BADGE_CSS]}

MESSAGE_TONES = {
    MessageStatus.SCHEDULED: "info",
    MessageStatus.QUEUED: "neutral",
    MessageStatus.SENDING: "progress",
    MessageStatus.SENT: "success",
    MessageStatus.DELIVERY_DELAYED: "warning",
    MessageStatus.DELIVERED: "success",
    MessageStatus.OPENED: "success",
    MessageStatus.CLICKED: "success",
    MessageStatus.FAILED: "danger",
    MessageStatus.BOUNCED: "danger",
    MessageStatus.COMPLAINED: "danger",
    MessageStatus.SUPPRESSED: "warning",
    MessageStatus.CANCELLED: "muted",
}

BATCH_TONES = {
    BatchStatus.QUEUED: "neutral",
    BatchStatus.SENDING: "progress",
    BatchStatus.DONE: "success",
    BatchStatus.FAILED: "danger",
    BatchStatus.SPLIT: "warning",
}


# A message's timeline: what went wrong stands out, the rest stays quiet.
EVENT_TONES = {
    EventKind.SENT: "success",
    EventKind.FAILED: "danger",
    EventKind.RETRY: "warning",
    EventKind.RATE_LIMITED: "warning",
    EventKind.PAUSED: "warning",
    EventKind.LEASE_EXPIRED: "warning",
    EventKind.SUPPRESSED: "warning",
    EventKind.CANCELLED: "muted",
    EventKind.ATTEMPT: "progress",
    EventKind.SCHEDULED: "info",
}


def badge(label: str, tone: str = "neutral") -> SafeString:
    """`label` (escaped) in a pill of `tone` (one of TONES; anything else is neutral)."""
    tone = tone if tone in TONES else "neutral"
    return format_html('<span class="mh-badge mh-badge--{}">{}</span>', tone, label)


def message_status_badge(status: str) -> SafeString:
    label = MessageStatus(status).label if status in MessageStatus.values else status
    return badge(label, MESSAGE_TONES.get(status, "neutral"))


def batch_status_badge(status: str) -> SafeString:
    label = BatchStatus(status).label if status in BatchStatus.values else status
    return badge(label, BATCH_TONES.get(status, "neutral"))


def event_badge(kind: str) -> SafeString:
    label = EventKind(kind).label if kind in EventKind.values else kind
    return badge(label, EVENT_TONES.get(kind, "neutral"))
