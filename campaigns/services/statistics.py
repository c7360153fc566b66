"""Statistics kept incrementally, so reading them never counts messages: campaign figures
(columns on Campaign), clicks per link (CampaignLink), the system's daily figures
(DailyStats) and unsubscribes attributed to a campaign (CampaignUnsubscribe).

Each write adds to a row in one UPDATE, inside the caller's transaction (a worker's status
change, a batch of provider events, an unsubscribe), campaigns in id order then the day, so
concurrent transactions take their locks in one order.
"""

from collections.abc import Iterable, Mapping
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignLink,
    CampaignLinkClick,
    CampaignUnsubscribe,
    DailyStats,
)
from queueing.models import Message

# The Campaign columns provider events and unsubscribes add to.
CAMPAIGN_FIGURES = (
    "delivered", "bounced", "bounced_hard", "bounced_soft", "complained", "opened", "clicked",
    "unsubscribed",
)  # fmt: skip


def campaign_statistics_add(*, added: Mapping[int, Mapping[str, int]]) -> None:
    """{campaign id: {figure: how many more}}: one UPDATE per campaign, in id order."""
    for campaign_id in sorted(added):
        counts = {f: n for f, n in added[campaign_id].items() if n}
        unknown = set(counts) - set(CAMPAIGN_FIGURES)
        if unknown:
            raise ValueError(f"not campaign figures: {sorted(unknown)}")
        if counts:
            Campaign.objects.filter(pk=campaign_id).update(
                **{f: F(f) + n for f, n in counts.items()}
            )


def daily_stats_add(*, day: date, counts: Mapping[str, int]) -> None:
    """Add to one day's figures (negative counts are ignored: a retried failure stays a
    failure of its day). Creates the day's row on first use."""
    wanted = {f: n for f, n in counts.items() if n > 0}
    unknown = set(wanted) - set(DailyStats.FIELDS)
    if unknown:
        raise ValueError(f"not daily figures: {sorted(unknown)}")
    if not wanted:
        return
    update = {f: F(f) + n for f, n in wanted.items()}
    if not DailyStats.objects.filter(date=day).update(**update):
        DailyStats.objects.bulk_create([DailyStats(date=day)], ignore_conflicts=True)
        DailyStats.objects.filter(date=day).update(**update)


def campaign_link_clicks_add(*, campaign_id: int, clicks: Iterable[tuple[str, int]]) -> int:
    """Record clicks `(url, message id)` on a campaign's links: every click adds to `clicks`,
    the first of each message on each link to `unique_clicks`. Returns new unique clicks."""
    by_url: dict[str, list[int]] = {}
    for url, message_id in clicks:
        by_url.setdefault(url[: CampaignLink.URL_MAX], []).append(message_id)
    new_unique = 0
    for url in sorted(by_url):
        message_ids = by_url[url]
        CampaignLink.objects.bulk_create(
            [CampaignLink(campaign_id=campaign_id, url=url)], ignore_conflicts=True
        )
        link_id = CampaignLink.objects.filter(campaign_id=campaign_id, url=url).values_list(
            "pk", flat=True
        )[0]
        unique = sum(_first_click(link_id, m) for m in dict.fromkeys(message_ids))
        CampaignLink.objects.filter(pk=link_id).update(
            clicks=F("clicks") + len(message_ids), unique_clicks=F("unique_clicks") + unique
        )
        new_unique += unique
    return new_unique


def _first_click(link_id: int, message_id: int) -> bool:
    """Whether this is the message's first click on the link. An INSERT that the unique
    constraint refuses, not a read first: two event batches at once cannot both count it."""
    try:
        with transaction.atomic():
            CampaignLinkClick.objects.create(link_id=link_id, message_id=message_id)
    except IntegrityError:
        return False
    return True


def campaign_unsubscribe_record(*, campaign_id: int, recipient_id: int) -> bool:
    """Count an unsubscribe for the campaign, once per person, and only for a person the
    campaign mailed (a signed link copied onto another's token counts nothing). True if
    counted."""
    mailed = Message.objects.filter(
        campaign_id=campaign_id, recipient_id=recipient_id, is_test=False
    ).exists()
    if not mailed:
        return False
    try:
        with transaction.atomic():
            CampaignUnsubscribe.objects.create(campaign_id=campaign_id, recipient_id=recipient_id)
            campaign_statistics_add(added={campaign_id: {"unsubscribed": 1}})
            daily_stats_add(day=timezone.localdate(), counts={"unsubscribed": 1})
    except IntegrityError:
        return False
    return True
