"""What a campaign's send path does to the message table on PostgreSQL: row versions, HOT
updates, dead rows, and the queued index (docs/DEPLOY.md, "PostgreSQL care").

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/bench_churn \\
        python benchmarks/message_churn.py [--recipients 5000] [--workers 2]

Autovacuum is turned off for the message table during the run (and back on after), so the
figures show what VACUUM has to clean up, not how far it got meanwhile. Prints the table's
counters from pg_stat_user_tables (inserts, updates, of them HOT, dead rows) per email, and
the size of message_queued_idx with the queue empty, before and after a VACUUM.
"""

import argparse
import time

from harness import (
    free_port,
    prepare,
    sandbox_process,
    start_worker,
    stop_workers,
    wait_for_workers,
)

TABLE = "queueing_message"


def table_counters(cursor) -> dict[str, int]:
    cursor.execute("SELECT pg_stat_force_next_flush()")
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_dead_tup FROM pg_stat_user_tables "
        "WHERE relname = %s",
        [TABLE],
    )
    ins, upd, hot, dead = cursor.fetchone()
    return {"inserted": ins, "updated": upd, "hot": hot, "dead": dead}


def index_pages(cursor, name: str) -> int:
    cursor.execute("SELECT pg_relation_size(%s::regclass) / 8192", [name])
    return cursor.fetchone()[0]


# The claim's walk when nothing is due: what one empty poll of the queued index costs.
EMPTY_POLL = (
    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM queueing_message "
    "WHERE status = 'queued' AND batch_id IS NULL AND priority = 'bulk' AND NOT send_alone "
    "ORDER BY id LIMIT 100"
)


def poll_buffers(cursor) -> int:
    """Shared buffers (8 KiB pages) one empty poll touches."""
    cursor.execute(EMPTY_POLL)
    plan = cursor.fetchone()[0][0]["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    port = free_port()
    prepare(sandbox_port=port)
    import redis
    from campaign_seed import clear_messages, make_campaign, seed_audience
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from campaigns.models import Campaign
    from campaigns.services import campaign_send

    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: set BENCH_DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0, interactive=False)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    lst, _ = seed_audience(args.recipients)
    clear_messages()
    campaign = make_campaign(lst)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE} SET (autovacuum_enabled = false)")
        before = table_counters(cursor)
    try:
        with sandbox_process(port):
            workers = [start_worker() for _ in range(args.workers)]
            wait_for_workers(len(workers))
            campaign_send(campaign=campaign)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                campaign.refresh_from_db()
                if campaign.status == Campaign.Status.SENT:
                    break
                time.sleep(0.5)
            stop_workers(workers)
        with connection.cursor() as cursor:
            after = table_counters(cursor)
            index_size = index_pages(cursor, "message_queued_idx")
            poll_before = poll_buffers(cursor)
            poll_again = poll_buffers(cursor)  # after the first walk marked what it found dead
            cursor.execute(f"VACUUM {TABLE}")
            poll_after = poll_buffers(cursor)
            cursor.execute(f"SELECT pg_size_pretty(pg_relation_size('{TABLE}'))")
            table_size = cursor.fetchone()[0]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE} RESET (autovacuum_enabled)")
    campaign.refresh_from_db()
    emails = max(campaign.sent, 1)
    delta = {k: after[k] - before[k] for k in ("inserted", "updated", "hot")}
    print(
        f"campaign                 {campaign.status}: {campaign.sent:,} sent of {args.recipients:,}"
    )
    print(f"rows inserted / email    {delta['inserted'] / emails:6.2f}")
    print(f"row updates / email      {delta['updated'] / emails:6.2f}")
    print(
        f"of them HOT              {delta['hot'] / emails:6.2f}  "
        f"({100 * delta['hot'] / max(delta['updated'], 1):.0f} % of updates)"
    )
    print(
        f"dead rows left / email   {after['dead'] / emails:6.2f}  (autovacuum off during the run)"
    )
    print(f"message_queued_idx       {index_size} pages (8 KiB) with the queue empty")
    print(
        f"an empty poll touches    {poll_before} pages before VACUUM ({poll_again} the next "
        f"time), {poll_after} after it (the claim's walk over dead entries)"
    )
    print(f"table size               {table_size}")
    if campaign.status != Campaign.Status.SENT:
        raise SystemExit("the campaign did not finish")


if __name__ == "__main__":
    main()
