"""Reads about campaigns: content, audience, progress."""

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from campaigns.models import Campaign, CampaignLink, DailyStats, Template
from campaigns.templating import Content
from recipients.models import List, Recipient
from recipients.selectors import (
    eligible_recipients,
    receiving_subscriptions,
    subscriptions_bound,
)


def template_content(template: Template) -> Content:
    return Content(
        subject=template.subject,
        body_format=template.body_format,
        body=template.body,
        text_body=template.text_body,
        strict=template.strict_variables,
    )


def campaign_content(campaign: Campaign) -> Content:
    """The frozen copy once sending started; before that, the template (and subject override)."""
    if campaign.is_frozen:
        return Content(
            subject=campaign.frozen_subject,
            body_format=campaign.frozen_format,
            body=campaign.frozen_body,
            text_body=campaign.frozen_text,
            strict=campaign.frozen_strict,
        )
    if campaign.template is None:
        return Content(subject=campaign.subject, body_format="html", body="")
    content = template_content(campaign.template)
    if campaign.subject:
        content = dataclasses.replace(content, subject=campaign.subject)
    return content


def campaign_audience(
    campaign: Campaign, *, after: int = 0, upto: int | None = None
) -> QuerySet[Recipient]:
    """Who would get a message now: eligible on any of the lists (once each), matching the
    attribute filter, ordered by id (the fan-out's keyset); only ids in (after, upto]."""
    recipients = eligible_recipients(campaign.lists.all(), after=after, upto=upto)
    for key, value in (campaign.attribute_filter or {}).items():
        recipients = recipients.filter(**{f"attributes__{key}": value})
    return recipients


def audience_chunk_end(campaign: Campaign, *, after: int, size: int) -> int | None:
    """Where the fan-out chunk after recipient `after` ends: at most `size` people (None: the
    rest of the audience is smaller than that)."""
    return subscriptions_bound(campaign.lists.all(), after=after, count=size)


def audience_count(campaign: Campaign) -> int:
    return campaign_audience(campaign).count()


def still_subscribed(lists: list[List], recipient_ids: Iterable[int]) -> set[int]:
    """Of these recipients, those still receiving campaigns on at least one of `lists`."""
    ids = list(recipient_ids)
    if not ids or not lists:
        return set()
    return set(
        receiving_subscriptions(lists)
        .filter(recipient_id__in=ids)
        .values_list("recipient_id", flat=True)
    )


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    sent: int
    rate: float  # messages finished per second since sending started
    eta: timedelta | None

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0

    @property
    def eta_text(self) -> str:
        return _short(self.eta) if self.eta else ""

    def describe(self) -> str:
        left = f", about {_short(self.eta)} left" if self.eta else ""
        return (
            f"{self.sent:,} sent of {self.total:,} ({self.percent:.0f}% done), "
            f"{self.rate:,.0f}/s{left}"
        )


def _short(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def campaign_rates(campaign: Campaign) -> dict[str, float]:
    """Shares in percent: failed and suppressed of those finished, and the webhook-fed
    delivered/bounced/opened/clicked of those sent."""
    done, sent = campaign.done or 0, campaign.sent or 0

    def share(part: int, whole: int) -> float:
        return round(100.0 * part / whole, 1) if whole else 0.0

    return {
        "failed": share(campaign.failed, done),
        "suppressed": share(campaign.suppressed, done),
        "delivered": share(campaign.delivered, sent),
        "bounced": share(campaign.bounced, sent),
        "opened": share(campaign.opened, sent),
        "clicked": share(campaign.clicked, sent),
    }


@dataclass(frozen=True)
class Figure:
    name: str
    count: int
    rate: float  # percent of `of`
    of: str  # what the rate is a share of: "sent" or "delivered"

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


def campaign_statistics(campaign: Campaign) -> list[Figure]:
    """The campaign's statistics with their rates, from its counters (never a count over
    messages): delivery figures as shares of sent, opens and clicks of delivered."""

    def share(part: int, whole: int) -> float:
        return round(100.0 * part / whole, 2) if whole else 0.0

    sent, delivered = campaign.sent, campaign.delivered
    of_sent = ("delivered", "bounced", "bounced_hard", "bounced_soft", "complained", "unsubscribed")
    figures = [
        Figure(f, getattr(campaign, f), share(getattr(campaign, f), sent), "sent") for f in of_sent
    ]
    figures += [
        Figure(f, getattr(campaign, f), share(getattr(campaign, f), delivered), "delivered")
        for f in ("opened", "clicked")
    ]
    return figures


def campaign_top_links(campaign: Campaign, limit: int = 10) -> list[CampaignLink]:
    """The most clicked links (by people), for the admin's panel."""
    return list(
        CampaignLink.objects.filter(campaign=campaign).order_by("-unique_clicks", "url")[:limit]
    )


# A campaign's page shows the system's daily figures for the days it ran, at most this many.
DAILY_STATS_DAYS = 14


def campaign_daily_stats(campaign: Campaign) -> list[DailyStats]:
    """The whole system's figures (DailyStats, in settings.TIME_ZONE days) for the days the
    campaign ran, oldest first: context for its own figures, at most DAILY_STATS_DAYS rows."""
    if campaign.started_at is None:
        return []
    first = timezone.localdate(campaign.started_at)
    last = timezone.localdate(campaign.finished_at or timezone.now())
    days = DailyStats.objects.filter(date__gte=first, date__lte=last).order_by("date")
    return list(days[:DAILY_STATS_DAYS])


IN_FLIGHT = (Campaign.Status.SENDING, Campaign.Status.PAUSED)


def campaigns_in_flight(limit: int = 20) -> list[Campaign]:
    """Sending and paused campaigns, the latest started first (a bounded read of a small
    table: campaigns are counted in thousands, never millions)."""
    return list(
        Campaign.objects.filter(status__in=IN_FLIGHT)
        .order_by("-started_at", "-id")
        .defer("frozen_body", "frozen_text", "attribute_filter")[:limit]
    )


def daily_stats(day: date) -> DailyStats | None:
    """The system's figures for one day (one row, by its unique date)."""
    return DailyStats.objects.filter(date=day).first()


def campaign_progress(campaign: Campaign) -> Progress:
    total = max(campaign.queued, campaign.audience_size)
    done = campaign.done
    rate = 0.0
    eta = None
    if campaign.started_at and done:
        end = campaign.finished_at or timezone.now()
        elapsed = max((end - campaign.started_at).total_seconds(), 0.001)
        rate = done / elapsed
        if campaign.status == Campaign.Status.SENDING and total > done:
            eta = timedelta(seconds=(total - done) / rate)
    return Progress(total=total, done=done, sent=campaign.sent, rate=rate, eta=eta)


# --- the HTTP API's reads (campaigns/api.py) ---

API_ID = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class CampaignPage:
    campaigns: list[Campaign]
    has_more: bool


def _api_rows() -> QuerySet[Campaign]:
    # What campaign_object shows: the template (subject before freezing) and the lists' slugs.
    return Campaign.objects.select_related("template").prefetch_related("lists")


def api_campaign(campaign_id: str) -> Campaign | None:
    """The campaign whose API id (its primary key, as text) is `campaign_id`; None for an id
    that is not one."""
    if not API_ID.fullmatch(campaign_id):
        return None
    return _api_rows().filter(pk=int(campaign_id)).first()


def api_campaigns_page(
    *, limit: int, after: str | None = None, before: str | None = None
) -> CampaignPage | None:
    """Campaigns, newest first, `limit` at a time: `after` (a campaign id) continues towards
    older ones, `before` towards newer ones; None if the cursor is no campaign. Walks the
    primary key (ids grow with creation); never counts."""
    rows = _api_rows()
    cursor_id = after or before
    if cursor_id:
        if not API_ID.fullmatch(cursor_id) or not Campaign.objects.filter(pk=cursor_id).exists():
            return None
        if after:
            rows = rows.filter(pk__lt=int(cursor_id)).order_by("-pk")
        else:
            rows = rows.filter(pk__gt=int(cursor_id)).order_by("pk")
    else:
        rows = rows.order_by("-pk")
    found = list(rows[: limit + 1])
    has_more = len(found) > limit
    found = found[:limit]
    if before:
        found.reverse()
    return CampaignPage(campaigns=found, has_more=has_more)


def campaign_names(limit: int) -> list[tuple[int, str]]:
    """The newest campaigns as (id, name), for queueing's message filter (a hook)."""
    return list(Campaign.objects.order_by("-pk").values_list("pk", "name")[:limit])
