"""The per-batch lookup of provider events that came before `sent` reads provider events only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from queueing.events import add_events
from queueing.models import EventKind, Message
from queueing.provider_events.ranking import reapply_after_sent
from queueing.services import message_create

pytestmark = pytest.mark.django_db


def _messages(n: int) -> list[Message]:
    return [
        message_create(
            from_email="Shop <shop@example.com>",
            to=[f"person{i}@example.net"],
            subject="Your receipt",
            text="Thanks",
        )
        for i in range(n)
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_the_lookup_uses_the_provider_event_index_not_the_timelines():
    messages = _messages(100)
    # A table of long timelines (100 lines per message: retries, releases, sent), none of
    # them from the provider: a table small enough to scan would not show the index.
    kinds = (EventKind.QUEUED, EventKind.ATTEMPT, EventKind.RATE_LIMITED, EventKind.SENT)
    add_events((m.pk, kinds[i % 4], "", {}) for m in messages for i in range(100))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE queueing_messageevent")
    with CaptureQueriesContext(connection) as queries:
        assert reapply_after_sent(messages) == 0
    [lookup] = [q["sql"] for q in queries.captured_queries if "queueing_messageevent" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + lookup)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "event_provider_message_idx" in plan, plan


def test_an_early_provider_event_is_still_found_and_applied():
    first, second = _messages(2)
    Message.objects.filter(pk__in=[first.pk, second.pk]).update(status="sent")
    add_events([(first.pk, EventKind.SENT, "", {})])
    add_events([(second.pk, EventKind.PROVIDER, "delivered", {})], provider_event="email.delivered")
    assert reapply_after_sent([first, second]) == 1
    assert Message.objects.get(pk=second.pk).status == "delivered"
    assert Message.objects.get(pk=first.pk).status == "sent"
