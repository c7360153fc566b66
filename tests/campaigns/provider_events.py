"""Provider events built for tests of the listeners, as queueing's events processing
announces them (queueing.hooks.ProviderEvent)."""

from dataclasses import dataclass, field
from itertools import count

from django.utils import timezone

from queueing.hooks import ProviderEvent
from queueing.models import Message

KIND_TYPES = {
    "sent": "email.sent",
    "delivered": "email.delivered",
    "bounced": "email.bounced",
    "complained": "email.complained",
    "opened": "email.opened",
    "clicked": "email.clicked",
    "delivery_delayed": "email.delivery_delayed",
}


@dataclass
class Timeline:
    """Provider events as the events processing announces them: each knows its message's
    earlier kinds."""

    seen: dict[int, set[str]] = field(default_factory=dict)
    ids: count = field(default_factory=lambda: count(1))

    def event(self, message: Message, kind: str, **extra) -> ProviderEvent:
        before = self.seen.setdefault(message.pk, set())
        event = ProviderEvent(
            raw_event_id=next(self.ids),
            type=KIND_TYPES[kind],
            kind=kind,
            occurred_at=extra.pop("occurred_at", timezone.now()),
            message_id=message.pk,
            campaign_id=message.campaign_id,
            recipient_id=message.recipient_id,
            is_test=message.is_test,
            addresses=(message.to[0],),
            kinds_before=frozenset(before),
            **extra,
        )
        before.add(kind)
        return event
