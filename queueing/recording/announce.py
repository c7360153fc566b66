"""Announcing status changes of messages (queueing.signals.campaign_messages_changed for
campaign messages, messages_changed for all).

Sent inside the transaction that changes the rows, so campaign counters always match them.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from queueing.metrics import catalogue
from queueing.metrics import tally as metrics
from queueing.models import Message
from queueing.signals import campaign_messages_changed, messages_changed

# Changes collected by notifications_combined() instead of being announced one call at a time.
_combined: ContextVar[Counter | None] = ContextVar("mailhub_combined_notifications", default=None)


def notify_campaigns(messages: Iterable[Message], status: str, *, count: int = 1) -> None:
    """Announce that these messages moved to `status` (or, with count=-1, left it)."""
    changes: Counter = Counter()
    finished: Counter = Counter()  # (status, priority) → n, for the metrics (tests too)
    for m in messages:
        if count > 0:
            # Read without loading: a row fetched with .only() (webhook processing) must not
            # cost a query per message for a metric label.
            finished[(status, m.__dict__.get("priority") or "unknown")] += count
        if not m.is_test:
            # (None, status): every message, for messages_changed
            changes[(None, status)] += count
            if m.campaign_id:
                changes[(m.campaign_id, status)] += count
    metrics.count_on_commit(catalogue.MESSAGES, finished)
    if not changes:
        return
    combined = _combined.get()
    if combined is not None:
        combined.update(changes)
    else:
        _announce(changes)


def _announce(changes: Counter) -> None:
    by_campaign = {key: n for key, n in changes.items() if key[0] is not None}
    if by_campaign:
        campaign_messages_changed.send(sender=Message, changes=by_campaign)
    everything = {status: n for (campaign, status), n in changes.items() if campaign is None}
    if any(everything.values()):
        messages_changed.send(sender=Message, changes=everything)


@contextmanager
def notifications_combined() -> Iterator[None]:
    """Announce every status change recorded inside as one, at the end. The counters are
    updated campaign by campaign in one order; several announcements in one transaction
    would each lock campaigns in that order, but together not, and could deadlock with
    another worker's transaction."""
    changes: Counter = Counter()
    reset = _combined.set(changes)
    try:
        yield
    finally:
        _combined.reset(reset)
    if changes:
        _announce(changes)
