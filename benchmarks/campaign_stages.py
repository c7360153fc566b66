"""Where a campaign batch's time goes in the worker, stage by stage.

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/bench_campaigns \\
        python benchmarks/campaign_stages.py [--batches 30]

Fans out a 100,000-recipient campaign, then sends `--batches` batches of 100 in this process
through queueing's own drain step (`delivery.send_next`: no pipelining, one request at a
time), timing each queueing and campaigns function it calls.
"""

import argparse
import collections
import time

from harness import cpu_seconds, free_port, prepare, sandbox_process

TIMES: collections.Counter = collections.Counter()
SERVER_CPU: collections.Counter = collections.Counter()


def server_cpu_seconds() -> float:
    """CPU used so far by this process's PostgreSQL backend (0 on SQLite): the database's
    share of each stage, read from /proc as the server runs on this machine."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.connection is None:
        return 0.0
    return cpu_seconds(connection.connection.info.backend_pid)


def timed(owner, name: str, label: str) -> None:
    func = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started, server = time.perf_counter(), server_cpu_seconds()
        try:
            return func(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - started
            SERVER_CPU[label] += server_cpu_seconds() - server

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    port = free_port()
    prepare(sandbox_port=port)
    import redis
    from campaign_seed import clear_messages, make_campaign, seed_audience
    from django.conf import settings

    import campaigns.rendering as campaign_rendering
    from campaigns import fanout
    from campaigns.services import campaign_send
    from queueing import claims, delivery, hooks, recording
    from queueing.resend import client

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    lst, _ = seed_audience(100_000)
    clear_messages()
    campaign = make_campaign(lst)
    campaign_send(campaign=campaign)
    fanout.fanout_run(campaign_id=campaign.pk)

    timed(claims, "claim_due_batch", "claims.claim_due_batch")
    timed(claims, "claim_messages", "claims.claim_messages (one UPDATE … RETURNING)")
    timed(claims, "take_group", "claims.take_group (claim and prepare a group)")
    timed(delivery, "render_pending", "  rendering.render_pending (in memory)")
    timed(campaign_rendering, "render_messages", "    campaigns.render_messages")
    hooks.register_renderer(campaign_rendering.render_messages)  # the timed one
    timed(delivery, "_blocked", "  suppression check")
    timed(claims, "freeze_batch", "  claims.freeze_batch (batch row + content)")
    timed(client, "send_batch", "HTTP /emails/batch")
    timed(recording, "record_outcome", "recording.record_outcome")

    with sandbox_process(port):
        for _ in range(3):  # warm up: connections, compiled templates
            delivery.send_next("bulk", "stages", delivery.DrainReport())
        TIMES.clear()
        started = time.perf_counter()
        for _ in range(args.batches):
            delivery.send_next("bulk", "stages", delivery.DrainReport())
        total = time.perf_counter() - started
    print(f"per batch of 100: {1000 * total / args.batches:.1f} ms wall time")
    print(f"  {'stage':<46} {'wall':>9} {'of it, database CPU':>20}")
    for label, seconds in TIMES.items():
        server = 1000 * SERVER_CPU[label] / args.batches
        print(f"  {label:<46} {1000 * seconds / args.batches:6.1f} ms {server:17.1f} ms")


if __name__ == "__main__":
    main()
