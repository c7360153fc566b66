"""The admin dashboard's JSON endpoint over a million messages (issue 14: p95 under 200 ms).

    python benchmarks/dashboard.py                  # 1,000,000 messages, 200 requests
    python benchmarks/dashboard.py --messages 100000 --requests 50    # a smoke run

Set-up (PostgreSQL only: BENCH_DATABASE_URL, default
postgres://root@127.0.0.1:5432/bench_dashboard, created and migrated on first use; Redis:
BENCH_REDIS_URL, default database 10): --messages rows inserted on the server with one
`INSERT … SELECT generate_series` (kept between runs; --reseed makes them again), spread over
30 days, in a realistic mix: most sent and moved on by provider events, a backlog of queued
bulk (a campaign) and transactional mail, scheduled mail, failures with their codes, cancelled
and suppressed mail, a few hundred in flight held by two workers, frozen batches waiting; five
campaigns (two sending, one paused, two sent) with their counters, daily statistics rows, a
sender domain pause, an operator pause, the live per-minute counters of the last hour, and two
workers registered in RQ with heartbeats.

Then: EXPLAIN of every query one status read makes (each must use an index and be bounded:
no sequential scan of the message table), and the endpoint timed through Django's test client
as a signed-in superuser (the whole request: session, permission, selector, JSON), --requests
times after 10 warm-up requests. Prints p50/p95/p99 and the queries per request.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import free_port, prepare

MIX = [  # (status, share of all messages)
    ("delivered", 0.55),
    ("opened", 0.12),
    ("clicked", 0.04),
    ("sent", 0.11),
    ("bounced", 0.01),
    ("queued", 0.08),
    ("scheduled", 0.02),
    ("failed", 0.03),
    ("cancelled", 0.02),
    ("suppressed", 0.02),
]
IN_FLIGHT = 300
WORKERS = ("bench-worker-1", "bench-worker-2")


def seed(count: int) -> float:
    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Campaign, DailyStats
    from queueing.models import SendBatch

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE queueing_messageevent, queueing_message, queueing_sendbatch, "
            "campaigns_campaign RESTART IDENTITY CASCADE"
        )
    now = timezone.now()
    campaigns = [
        Campaign.objects.create(name=name, status=status, started_at=now, **counters)
        for name, status, counters in [
            ("Autumn newsletter", "sending", {"audience_size": 200_000, "queued": 200_000}),
            ("Product launch", "sending", {"audience_size": 50_000, "queued": 50_000}),
            ("Winter sale", "paused", {"audience_size": 80_000, "queued": 80_000}),
            ("Summer news", "sent", {"audience_size": 300_000, "queued": 300_000}),
            ("Spring news", "sent", {"audience_size": 250_000, "queued": 250_000}),
        ]
    ]
    # Status by position: cumulative shares of MIX, so the mix is exact.
    bounds, total = [], 0.0
    for status, share in MIX:
        total += share
        bounds.append((status, int(total * count)))
    case = " ".join(f"WHEN i <= {end} THEN '{status}'" for status, end in bounds)
    ids = [c.pk for c in campaigns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO queueing_message (
              uuid, idempotency_key, from_email, from_domain, "to", cc, bcc, reply_to, subject,
              html, text, headers, tags, priority, status, failure_code, last_error, attempts,
              max_attempts, scheduled_at, claimed_by, provider_id, source, created_at,
              queued_at, sent_at, updated_at, campaign_id, is_test, needs_render, send_alone)
            SELECT md5(i::text)::uuid, 'mailhub-message-' || md5(i::text),
              'News <news@example.com>', 'example.com',
              jsonb_build_array('person' || i || '@example.org'), '[]', '[]', '[]',
              'Message number ' || i, '<p>Hello</p>', 'Hello', '{{}}', '[]',
              CASE WHEN i %% 10 < 4 THEN 'transactional' ELSE 'bulk' END, s.status,
              CASE WHEN s.status = 'failed' THEN (ARRAY['rejected','attempts_exhausted',
                'expired','sender_refused'])[1 + i %% 4] ELSE '' END,
              CASE WHEN s.status = 'failed' THEN '422 validation_error: invalid `to` field'
                ELSE '' END,
              CASE WHEN s.status IN ('queued','scheduled') THEN 0 ELSE 1 END, 8,
              CASE WHEN s.status = 'scheduled' THEN %(now)s + (i %% 1440) * interval '1 minute'
                END,
              '', CASE WHEN s.status IN ('queued','scheduled','failed','cancelled','suppressed')
                THEN '' ELSE 'prov-' || i END,
              CASE WHEN i %% 3 = 0 THEN 'campaign' ELSE 'api' END,
              c.created_at, c.created_at,
              CASE WHEN s.status IN ('queued','scheduled','failed','cancelled','suppressed')
                THEN NULL ELSE c.created_at + interval '2 seconds' END,
              c.created_at,
              CASE WHEN i %% 3 = 0 THEN (ARRAY{ids})[1 + i %% 5] END, false, false, false
            FROM generate_series(1, %(count)s) i
            CROSS JOIN LATERAL (SELECT CASE {case} ELSE 'delivered' END AS status) s
            CROSS JOIN LATERAL (SELECT %(now)s - ((%(count)s - i) * interval '30 days'
              / %(count)s) AS created_at) c
            """,
            {"now": now, "count": count},
        )
        # In flight: a few hundred queued messages claimed by the two workers.
        cursor.execute(
            "UPDATE queueing_message SET status = 'sending', claimed_by = "
            "(ARRAY['bench-worker-1','bench-worker-2'])[1 + id %% 2], claim_token = md5(id::text)::uuid, "
            "lease_expires_at = %s WHERE id IN (SELECT id FROM queueing_message "
            "WHERE status = 'queued' ORDER BY id DESC LIMIT %s)",
            [now + timezone.timedelta(seconds=60), IN_FLIGHT],
        )
    SendBatch.objects.bulk_create(
        [
            SendBatch(
                idempotency_key=f"bench-batch-{n}",
                priority="bulk",
                status="done" if n >= 30 else "queued" if n >= 4 else "sending",
                size=100,
                claimed_by=WORKERS[n % 2] if n < 4 else "",
                lease_expires_at=now + timezone.timedelta(seconds=60) if n < 4 else None,
                next_attempt_at=now,
            )
            for n in range(2000)
        ]
    )
    DailyStats.objects.all().delete()
    DailyStats.objects.bulk_create(
        [
            DailyStats(date=timezone.localdate() - timezone.timedelta(days=d), sent=30_000)
            for d in range(90)
        ]
    )
    with connection.cursor() as cursor:
        # What autovacuum does after a large insert (autovacuum_vacuum_insert_threshold): the
        # visibility map lets the backlog counts read their partial indexes only.
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def live_state() -> None:
    """What lives in Redis or changes by the minute: rates, pauses, workers."""
    from django.utils import timezone
    from rq import Worker

    from queueing.connection import get_redis
    from queueing.live_rates import live_rates_add
    from queueing.models import SenderDomainPause
    from queueing.ratelimit import pause
    from queueing.sending_gate import operator_pause

    now = timezone.now()
    for back in range(60):
        live_rates_add(
            {"sent": 300 + back, "failed": back % 7}, at=now - timezone.timedelta(minutes=back)
        )
    pause(5, "Resend answered 429: rate_limit_exceeded")
    operator_pause(reason="benchmark: a pause in place", minutes=60)
    SenderDomainPause.objects.get_or_create(
        domain="unverified.example", lifted_at=None, defaults={"reason": "not verified"}
    )
    for name in WORKERS:
        worker = Worker(["transactional", "events", "bulk"], connection=get_redis(), name=name)
        worker.register_birth()
        worker.heartbeat()


def explain_all() -> list[str]:
    """EXPLAIN every query of one status read; returns the problems (sequential scans of
    messages, batches or events)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mailhub.status import system_status

    with CaptureQueriesContext(connection) as captured:
        system_status()
    problems = []
    print(f"\n{len(captured)} queries per status read; their plans (first line and scans):")
    for query in captured:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql)
            plan = [row[0] for row in cursor.fetchall()]
        scans = [line.strip() for line in plan if "Scan" in line]
        table = next(
            (
                t
                for t in (
                    "queueing_message ",
                    "queueing_sendbatch",
                    "campaigns_campaign ",
                    "queueing_operatorpause",
                    "queueing_senderdomainpause",
                    "campaigns_dailystats",
                )
                if t in sql + " "
            ),
            "other",
        )
        print(f"  [{table.strip()}] {sql[:110]}…")
        for scan in scans:
            print(f"      {scan[:120]}")
            if "Seq Scan on queueing_message" in scan or "Seq Scan on queueing_sendbatch" in scan:
                problems.append(scan)
    return problems


def time_endpoint(requests: int) -> tuple[list[float], int]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    url = reverse("admin:mailhub_status_json")
    for _ in range(10):
        assert client.get(url, secure=True).status_code == 200
    count = [0]

    def counted(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    # (Django empties connection.queries when a request starts: count with a wrapper.)
    with connection.execute_wrapper(counted):
        client.get(url, secure=True)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, secure=True)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return timings, count[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reseed", action="store_true", help="insert the messages again")
    args = parser.parse_args()

    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/bench_dashboard")
    os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    prepare(sandbox_port=free_port())
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("This benchmark runs on PostgreSQL (BENCH_DATABASE_URL).")
    call_command("migrate", verbosity=0, interactive=False)
    import redis
    from django.conf import settings

    from queueing.models import Message

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    have = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
    if args.reseed or have != args.messages:
        print(f"seeding {args.messages:,} messages …", flush=True)
        print(f"seeded in {seed(args.messages):.1f} s")
    else:
        print(f"reusing {have:,} seeded messages (--reseed to make them again)")
    live_state()
    problems = explain_all()
    load_before = os.getloadavg()[0]
    timings, queries = time_endpoint(args.requests)
    q = statistics.quantiles(timings, n=100, method="inclusive")
    print(
        f"\nGET /admin/status.json over {args.messages:,} messages, {args.requests} requests, "
        f"{queries} queries each:"
    )
    print(
        f"  p50 {q[49]:.1f} ms   p95 {q[94]:.1f} ms   p99 {q[98]:.1f} ms   "
        f"max {max(timings):.1f} ms   (target: p95 < 200 ms)"
    )
    print(
        f"  load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    if problems:
        print("\nSEQUENTIAL SCANS:\n  " + "\n  ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
