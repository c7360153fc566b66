"""How fast a campaign's fan-out turns an audience into queued, enqueued messages.

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/bench_campaigns \\
        python benchmarks/campaign_fanout.py [--recipients 100000] [--chunk 10000]

Runs the fan-out job's code (campaigns.fanout.fanout_run) in this process, against an
isolated database and Redis db 13 (or BENCH_REDIS_URL), and prints time, rate and peak memory.
"""

import argparse
import resource
import time

from harness import free_port, prepare


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    args = parser.parse_args()
    prepare(sandbox_port=free_port())
    import redis
    from campaign_seed import clear_messages, machine, make_campaign, seed_audience
    from django.conf import settings
    from django.core.management import call_command

    from campaigns import fanout
    from campaigns.services import campaign_send
    from queueing.models import Message

    call_command("migrate", verbosity=0, interactive=False)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    lst, seed_seconds = seed_audience(args.recipients)
    clear_messages()
    campaign = make_campaign(lst)
    campaign_send(campaign=campaign)  # freezes and counts; the job it enqueues is not run
    rss_before = rss_mb()
    started = time.perf_counter()
    added = fanout.fanout_run(campaign_id=campaign.pk, chunk=args.chunk)
    seconds = time.perf_counter() - started
    rss_after = rss_mb()
    rows = Message.objects.filter(campaign=campaign).count()
    bulk_jobs = len(__import__("django_rq").get_queue("bulk"))

    print(f"machine                 {machine()}")
    print(f"recipients              {args.recipients:,} (seeded in {seed_seconds:.1f} s)")
    print(
        f"fan-out                 {seconds:8.2f} s, {added / seconds:10,.0f} messages/s (chunk {args.chunk:,})"
    )
    print(f"peak RSS                {rss_before:8.0f} MB before, {rss_after:.0f} MB after")
    print(
        f"rows / drain jobs       {rows:,} / {bulk_jobs} (the drain flag allows one waiting job "
        "per flag lifetime, however many chunks ask)"
    )
    if rows != args.recipients or added != args.recipients:
        raise SystemExit("fan-out did not create exactly one message per recipient")
    again = fanout.fanout_run(campaign_id=campaign.pk)
    print(f"second run adds         {again}")


if __name__ == "__main__":
    main()
