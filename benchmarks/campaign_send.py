"""How fast a campaign goes out: fan-out plus batched sends, with real workers.

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/bench_campaigns \\
        python benchmarks/campaign_send.py [--recipients 100000] [--workers 2]

The sandbox runs without a rate limit; workers are `manage.py rqworker transactional bulk`
processes (forking a job process per drain job, as in production). Prints the time from the
send to the campaign's "sent", the send rate once the fan-out is done, and per-stage CPU.
"""

import argparse
import time

from harness import (
    cpu_seconds,
    database_cpu_seconds,
    free_port,
    machine_busy_seconds,
    prepare,
    sandbox_cpu_seconds,
    sandbox_process,
    start_worker,
    stop_workers,
    wait_for_workers,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    port = free_port()
    prepare(sandbox_port=port)
    import redis
    from campaign_seed import clear_messages, machine, make_campaign, seed_audience
    from django.conf import settings
    from django.core.management import call_command

    from campaigns.models import Campaign
    from campaigns.services import campaign_send
    from sandbox import SandboxControl

    call_command("migrate", verbosity=0, interactive=False)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    lst, _ = seed_audience(args.recipients)
    clear_messages()
    campaign = make_campaign(lst)

    with sandbox_process(port) as url:
        workers = [start_worker() for _ in range(args.workers)]
        wait_for_workers(len(workers))  # the clock starts once they listen
        # Their start-up (Django, imports) is not part of sending: count CPU from here.
        cpu_at_start = sum(cpu_seconds(w.pid) for w in workers)
        started = time.perf_counter()
        busy_before, total_before = machine_busy_seconds()
        database_before = database_cpu_seconds()
        campaign_send(campaign=campaign)
        fanout_done = sent_from = None
        sent_at_fanout = 0
        deadline = started + args.timeout
        while time.perf_counter() < deadline:
            campaign.refresh_from_db()
            if fanout_done is None and campaign.fanout_finished_at:
                fanout_done = time.perf_counter() - started
                sent_from, sent_at_fanout = time.perf_counter(), campaign.sent
            if campaign.status == Campaign.Status.SENT:
                break
            time.sleep(0.2)
        total = time.perf_counter() - started
        busy_after, total_after = machine_busy_seconds()
        database_cpu = database_cpu_seconds() - database_before
        after_fanout = time.perf_counter() - (sent_from or started)
        cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu_at_start
        sandbox_cpu = sandbox_cpu_seconds()
        stop_workers(workers)
        stats = SandboxControl(url).stats()
    campaign.refresh_from_db()
    print(f"machine                  {machine()}")
    print(f"recipients / workers     {args.recipients:,} / {args.workers}")
    print(
        f"status                   {campaign.status}: {campaign.sent:,} sent, {campaign.failed} failed, {campaign.suppressed} suppressed"
    )
    print(
        f"send → sent              {total:8.1f} s  ({campaign.sent / total:,.0f} emails/s overall)"
    )
    if fanout_done is not None:
        rest = campaign.sent - sent_at_fanout
        print(
            f"fan-out finished after   {fanout_done:8.1f} s  ({sent_at_fanout:,} already sent by then)"
        )
        print(f"after the fan-out        {rest / max(after_fanout, 1e-9):8,.0f} emails/s")
    print(
        f"worker CPU / 1,000       {1000 * cpu / max(campaign.sent, 1):8.2f} s (worker processes and their jobs)"
    )
    print(
        f"sandbox CPU / 1,000      {1000 * sandbox_cpu / max(campaign.sent, 1):8.2f} s (the stand-in for Resend, on the same cores)"
    )
    if database_cpu:
        print(
            f"database CPU / 1,000     {1000 * database_cpu / max(campaign.sent, 1):8.2f} s (PostgreSQL, on the same cores)"
        )
    busy = (busy_after - busy_before) / max(total_after - total_before, 1e-9)
    print(
        f"machine CPU busy         {100 * busy:8.0f} %  ({1000 * (busy_after - busy_before) / max(campaign.sent, 1):.2f} s per 1,000 emails, all processes)"
    )
    print(f"sandbox                  {stats.get('accepted_emails')} emails accepted")
    if campaign.status != Campaign.Status.SENT or stats.get("accepted_emails") != args.recipients:
        raise SystemExit("the campaign did not finish with every recipient sent exactly once")


if __name__ == "__main__":
    main()
