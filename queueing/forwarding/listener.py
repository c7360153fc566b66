"""The provider-event listener that forwards events to API keys' webhook endpoints.

Registered by queueing/apps.py. For each event about a message an API key queued, one
delivery row per active endpoint of that key that wants its type, written inside the
transaction that applied the events (so an event rolled back is not forwarded, and one
applied is never lost); a job on the `events` queue sends them once it commits. An event
processed again writes nothing new (unique endpoint + raw event).
"""

import logging
from collections import defaultdict

from django.utils import timezone

from queueing.forwarding.enqueue import request_forwarding_on_commit
from queueing.forwarding.models import WebhookDelivery, WebhookEndpoint
from queueing.forwarding.payload import event_payload
from queueing.hooks import ProviderEvent
from queueing.models import Message
from queueing.resend.webhook_signing import new_message_id

log = logging.getLogger(__name__)

EVENT_TYPE_LENGTH = WebhookDelivery._meta.get_field("event_type").max_length


def forward_events(events: list[ProviderEvent]) -> None:
    candidates = [e for e in events if e.api_key_id is not None and e.message_id is not None]
    if not candidates:
        return  # the usual case (campaign and admin mail): no query at all
    endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(
        api_key_id__in={e.api_key_id for e in candidates},
        active=True,
        api_key__revoked_at__isnull=True,
    ):
        endpoints[endpoint.api_key_id].append(endpoint)
    if not endpoints:
        return
    # The message row decides whose it is, not the event: a key gets its own messages only.
    messages = {
        pk: (uuid, api_key_id)
        for pk, uuid, api_key_id in Message.objects.filter(
            pk__in={e.message_id for e in candidates}
        ).values_list("id", "uuid", "api_key_id")
    }
    now = timezone.now()
    rows: dict[tuple[int, int], WebhookDelivery] = {}
    for event in candidates:
        uuid, owner = messages.get(event.message_id, (None, None))
        if owner is None or owner != event.api_key_id:
            continue
        for endpoint in endpoints.get(owner, ()):
            if not endpoint.wants(event.type) or (endpoint.pk, event.raw_event_id) in rows:
                continue
            try:
                payload = event_payload(event, str(uuid))
            except Exception:
                # One odd event must not roll back the batch (hooks.ProviderEvent's contract).
                log.exception("Event %s cannot be forwarded; skipped", event.raw_event_id)
                continue
            rows[endpoint.pk, event.raw_event_id] = WebhookDelivery(
                endpoint=endpoint,
                raw_event_id=event.raw_event_id,
                message_id=event.message_id,
                event_type=event.type[:EVENT_TYPE_LENGTH],
                msg_id=new_message_id(),
                payload=payload,
                next_attempt_at=now,
            )
    if rows:
        WebhookDelivery.objects.bulk_create(rows.values(), ignore_conflicts=True)
        request_forwarding_on_commit()
