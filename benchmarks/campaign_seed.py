"""Seeding for the campaign benchmarks: N subscribed recipients on one list, and a campaign.

Not a benchmark itself; imported by campaign_fanout.py and campaign_send.py after
harness.prepare(). On PostgreSQL the rows are generated on the server (generate_series).
"""

import contextlib
import time

BENCH_MJML = """<mjml><mj-head><mj-title>{{ campaign.name }}</mj-title></mj-head><mj-body>
<mj-section><mj-column>
<mj-text font-size="20px">Hello {{ recipient.first_name|default:"there" }},</mj-text>
<mj-text>Our spring news for {{ recipient.email }}.{% if recipient.attributes.plan == "pro" %}
Thanks for being on the pro plan.{% endif %}</mj-text>
<mj-button href="https://example.com/spring?u={{ recipient.email|urlencode }}">Read more</mj-button>
<mj-text font-size="11px"><a href="{{ unsubscribe_url }}">Unsubscribe</a> ·
<a href="{{ preferences_url }}">Preferences</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""


def seed_audience(count: int, slug: str = "bench") -> tuple[object, float]:
    """A list with exactly `count` subscribed recipients (reused if already there)."""
    from django.db import connection
    from django.utils import timezone

    from recipients.models import List, Recipient, Subscription

    lst, _ = List.objects.get_or_create(slug=slug, defaults={"name": "Benchmark"})
    if Subscription.objects.filter(list=lst, status="subscribed").count() == count:
        return lst, 0.0
    started = time.perf_counter()
    clear_messages()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE recipients_subscription, recipients_recipient CASCADE")
    else:
        Subscription.objects.all().delete()
        Recipient.objects.all().delete()
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO recipients_recipient (email, first_name, last_name, attributes, "
                "unsubscribe_token, created_at, updated_at) SELECT 'user' || i || '@example.com', "
                "'User' || i, '', CASE WHEN i %% 3 = 0 THEN '{\"plan\": \"pro\"}'::jsonb ELSE "
                "'{}'::jsonb END, md5(i::text || random()::text), %s, %s "
                "FROM generate_series(1, %s) i",
                [now, now, count],
            )
            cursor.execute(
                "INSERT INTO recipients_subscription (recipient_id, list_id, status, source, "
                "subscribed_at, confirmed_at, created_at, updated_at) SELECT id, %s, 'subscribed', "
                "'import', %s, %s, %s, %s FROM recipients_recipient",
                [lst.pk, now, now, now, now],
            )
            cursor.execute("ANALYZE")
    else:
        from recipients.tokens import new_unsubscribe_token

        for start in range(0, count, 5000):
            people = Recipient.objects.bulk_create(
                Recipient(
                    email=f"user{i}@example.com",
                    first_name=f"User{i}",
                    unsubscribe_token=new_unsubscribe_token(),
                )
                for i in range(start, min(start + 5000, count))
            )
            Subscription.objects.bulk_create(
                Subscription(
                    recipient=p, list=lst, status="subscribed", source="import", subscribed_at=now
                )
                for p in people
            )
    return lst, time.perf_counter() - started


def clear_messages() -> None:
    """Empty the message tables (TRUNCATE on PostgreSQL: deleting a million rows through the
    ORM takes minutes and memory)."""
    from django.db import connection

    from campaigns.models import Campaign
    from queueing.models import Message

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE queueing_messageevent, queueing_messageattachment, queueing_message, "
                "queueing_sendbatch, campaigns_campaign_lists, campaigns_campaign CASCADE"
            )  # CASCADE: and the tables that point at them (webhook events, statistics)
    else:
        Message.objects.all().delete()
        Campaign.objects.all().delete()


def make_campaign(lst):
    """A campaign of the benchmark template to `lst` (a List, or a list of them)."""
    from campaigns.models import Template
    from campaigns.services import campaign_create, template_create

    template = Template.objects.filter(slug="bench").first() or template_create(
        name="Bench",
        slug="bench",
        subject="Spring news, {{ recipient.first_name }}",
        body=BENCH_MJML,
    )
    return campaign_create(
        name="Benchmark", template=template, lists=lst if isinstance(lst, list) else [lst]
    )


def machine() -> str:
    import os
    import platform

    from django.db import connection

    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu
        )
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {connection.vendor} {connection.pg_version if connection.vendor == 'postgresql' else ''}".strip()


def seed_overlapping_lists(count: int) -> tuple[list, int, float]:
    """`count` recipients on two overlapping lists (the first 60 % on one, the last 60 % on
    the other, so a fifth are on both), every hundredth address suppressed: (the two lists,
    the audience size, seconds spent). Reused when already there."""
    from django.db import connection
    from django.utils import timezone

    from recipients.models import List, Recipient, Subscription, Suppression

    lists = [
        List.objects.get_or_create(slug=slug, defaults={"name": slug})[0]
        for slug in ("bench-a", "bench-b")
    ]
    cut_a, cut_b = count * 6 // 10, count * 4 // 10  # a: i < cut_a; b: i >= cut_b
    audience = count - count // 100
    subscriptions = cut_a + (count - cut_b)
    if (
        Recipient.objects.count() == count
        and Subscription.objects.filter(list__in=lists).count() == subscriptions
        and Suppression.objects.count() == count // 100
    ):
        return lists, audience, 0.0
    started = time.perf_counter()
    clear_messages()
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE recipients_subscription, recipients_recipient, "
                "recipients_suppression CASCADE"
            )
            cursor.execute(
                "INSERT INTO recipients_recipient (email, first_name, last_name, attributes, "
                "unsubscribe_token, created_at, updated_at) SELECT 'user' || i || '@example.com', "
                "'User' || i, '', CASE WHEN i %% 3 = 0 THEN '{\"plan\": \"pro\"}'::jsonb ELSE "
                "'{}'::jsonb END, md5(i::text || random()::text), %s, %s "
                "FROM generate_series(0, %s - 1) i ORDER BY i",
                [now, now, count],
            )
            for lst, where in ((lists[0], "n < %s"), (lists[1], "n >= %s")):
                cursor.execute(
                    "INSERT INTO recipients_subscription (recipient_id, list_id, status, source, "
                    "subscribed_at, confirmed_at, created_at, updated_at) SELECT id, %s, "
                    "'subscribed', 'import', %s, %s, %s, %s FROM (SELECT id, row_number() OVER "
                    f"(ORDER BY id) - 1 AS n FROM recipients_recipient) r WHERE {where}",
                    [lst.pk, now, now, now, now, cut_a if lst is lists[0] else cut_b],
                )
            cursor.execute(
                "INSERT INTO recipients_suppression (email, reason, scope, note, created_at) "
                "SELECT 'user' || i || '@example.com', 'manual', 'all', '', %s "
                "FROM generate_series(0, %s - 1, 100) i",
                [now, count],
            )
            cursor.execute("VACUUM ANALYZE recipients_recipient")
            cursor.execute("VACUUM ANALYZE recipients_subscription")
            cursor.execute("VACUUM ANALYZE recipients_suppression")
    else:
        from recipients.tokens import new_unsubscribe_token

        Subscription.objects.all().delete()
        Recipient.objects.all().delete()
        Suppression.objects.all().delete()
        for start in range(0, count, 5000):
            people = Recipient.objects.bulk_create(
                Recipient(
                    email=f"user{i}@example.com",
                    first_name=f"User{i}",
                    unsubscribe_token=new_unsubscribe_token(),
                )
                for i in range(start, min(start + 5000, count))
            )
            Subscription.objects.bulk_create(
                Subscription(
                    recipient=p, list=lst, status="subscribed", source="import", subscribed_at=now
                )
                for i, p in enumerate(people, start)
                for lst in lists
                if (lst is lists[0] and i < cut_a) or (lst is lists[1] and i >= cut_b)
            )
        Suppression.objects.bulk_create(
            Suppression(email=f"user{i}@example.com", reason="manual") for i in range(0, count, 100)
        )
    return lists, audience, time.perf_counter() - started
