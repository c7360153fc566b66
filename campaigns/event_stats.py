"""Campaigns' listener for provider events (queueing.hooks.register_event_listener): campaign
statistics, clicks per link, the system's daily figures, the live event rate, and then the
guard rails for the campaigns whose bounces or complaints went up.

Each message counts once per kind, on its first event of that kind (`kinds_before`), and an
event implies the kinds before it: an `opened` or `clicked` that arrives before `delivered`
counts the message as delivered (once), a `clicked` before `opened` counts it as opened. Since
a campaign has one message per person, opened and clicked are unique opens and clicks. A
bounce counts once per message, hard (Resend's Permanent) or soft (Transient, Undetermined),
by the type of its first bounce. Test sends and events without a message count nothing
(they still count in the live event rate).
"""

import logging
from collections import Counter, defaultdict

from django.conf import settings
from django.utils import timezone

from campaigns.services.guard_rails import guard_rails_check
from campaigns.services.statistics import (
    campaign_link_clicks_add,
    campaign_statistics_add,
    daily_stats_add,
)
from queueing.hooks import ProviderEvent
from queueing.live_rates import live_rates_add_on_commit

log = logging.getLogger(__name__)

# What an event of each kind says the message also reached.
IMPLIES: dict[str, frozenset[str]] = {
    "delivered": frozenset({"delivered"}),
    "opened": frozenset({"delivered", "opened"}),
    "clicked": frozenset({"delivered", "opened", "clicked"}),
    "bounced": frozenset({"bounced"}),
    "complained": frozenset({"complained"}),
}
HARD_BOUNCE = "Permanent"
# The kinds the system's daily figures count (bounced_hard/_soft are the campaign's detail).
DAILY = frozenset({"delivered", "bounced", "complained", "opened", "clicked"})


def reached(kinds: frozenset[str] | set[str]) -> set[str]:
    """The counted kinds a message with these events has reached."""
    return set().union(*(IMPLIES.get(kind, frozenset()) for kind in kinds))


def newly_reached(event: ProviderEvent) -> set[str]:
    """The counted kinds this event adds to its message (empty for a repeat)."""
    return set(IMPLIES.get(event.kind, frozenset())) - reached(event.kinds_before)


def campaign_events_apply(events: list[ProviderEvent]) -> None:
    """The listener: add a batch of applied provider events to the statistics."""
    by_campaign: dict[int, Counter] = defaultdict(Counter)
    by_day: dict = defaultdict(Counter)
    clicks: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for event in events:
        if event.message_id is None or event.is_test:
            continue
        figures = Counter()
        for kind in newly_reached(event):
            figures[kind] += 1
            if kind == "bounced":
                hard = event.bounce_type == HARD_BOUNCE
                figures["bounced_hard" if hard else "bounced_soft"] += 1
        if figures:
            day = timezone.localdate(event.occurred_at)
            by_day[day].update({k: n for k, n in figures.items() if k in DAILY})
        if event.campaign_id is None:
            continue
        by_campaign[event.campaign_id].update(figures)
        if event.kind == "clicked" and event.link and not is_mailhub_link(event.link):
            clicks[event.campaign_id].append((event.link, event.message_id))
    campaign_statistics_add(added=by_campaign)
    for campaign_id in sorted(clicks):
        campaign_link_clicks_add(campaign_id=campaign_id, clicks=clicks[campaign_id])
    for day in sorted(by_day):
        daily_stats_add(day=day, counts=by_day[day])
    live_rates_add_on_commit({"events": len(events)})
    watched = [c for c, f in by_campaign.items() if f["bounced_hard"] or f["complained"]]
    if watched:
        guard_rails_check(campaign_ids=watched)


def is_mailhub_link(url: str) -> bool:
    """A link to mailhub itself (a person's unsubscribe or preference page): it carries that
    person's token, so it is never kept as a campaign link anyone may read."""
    base = settings.MAILHUB_BASE_URL.rstrip("/")
    return url == base or url.startswith(f"{base}/")
