"""Where a campaign batch's time goes in the worker, stage by stage.

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/bench_campaigns \\
        python benchmarks/campaign_stages.py [--batches 30] [--values-update]

Fans out a 100,000-recipient campaign, then sends `--batches` batches of 100 in this process
through queueing's own drain step, timing each queueing and campaigns function it calls.
`--values-update` swaps the storing of rendered content (Django's bulk_update, a CASE per
field) for one UPDATE … FROM (VALUES …), to show what that step could cost (PostgreSQL only).
"""

import argparse
import collections
import json
import time

from harness import free_port, prepare, sandbox_process

TIMES: collections.Counter = collections.Counter()


def timed(owner, name: str, label: str) -> None:
    func = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def values_update(self, objs, fields, batch_size=None) -> int:
    from django.db import connection

    objs = list(objs)
    if not objs:
        return 0
    rows = ", ".join(["(%s::bigint, %s, %s, %s, %s::jsonb)"] * len(objs))
    params = [v for m in objs for v in (m.pk, m.subject, m.html, m.text, json.dumps(m.headers))]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE queueing_message m SET subject = v.s, html = v.h, text = v.t, headers = v.hd, "
            f"needs_render = false FROM (VALUES {rows}) v(id, s, h, t, hd) WHERE m.id = v.id",
            params,
        )
    return len(objs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--values-update", action="store_true")
    args = parser.parse_args()
    port = free_port()
    prepare(sandbox_port=port)
    import redis
    from campaign_seed import clear_messages, make_campaign, seed_audience
    from django.conf import settings

    import campaigns.rendering as campaign_rendering
    from campaigns import fanout
    from campaigns.services import campaign_send
    from queueing import claims, delivery, recording, resend_client
    from queueing.models import Message

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    lst, _ = seed_audience(100_000)
    clear_messages()
    campaign = make_campaign(lst)
    campaign_send(campaign=campaign)
    fanout.fanout_run(campaign_id=campaign.pk)

    manager = type(Message.objects)
    if args.values_update:
        manager.bulk_update = values_update
    timed(claims, "claim_due_batch", "claims.claim_due_batch")
    timed(claims, "claim_messages", "claims.claim_messages")
    timed(delivery, "render_pending", "rendering.render_pending (all)")
    timed(campaign_rendering, "render_messages", "  campaigns.render_messages")
    timed(manager, "bulk_update", "  storing the rendered rows")
    timed(delivery, "_blocked", "suppression check")
    timed(claims, "freeze_batch", "claims.freeze_batch")
    timed(resend_client, "send_batch", "HTTP /emails/batch")
    timed(recording, "record_batch_outcome", "recording.record_batch_outcome")

    with sandbox_process(port):
        for _ in range(3):  # warm up: connections, compiled templates
            delivery.send_next("bulk", "stages", delivery.DrainReport())
        TIMES.clear()
        started = time.perf_counter()
        for _ in range(args.batches):
            delivery.send_next("bulk", "stages", delivery.DrainReport())
        total = time.perf_counter() - started
    print(f"per batch of 100: {1000 * total / args.batches:.1f} ms wall time")
    for label, seconds in TIMES.items():
        print(f"  {label:<36} {1000 * seconds / args.batches:7.1f} ms")


if __name__ == "__main__":
    main()
