"""What the operations work costs: the suppression check with forgotten people's hashes, and
how long the purge holds each batch.

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/bench_opscmds \\
        python benchmarks/retention.py [--suppressions 100000] [--messages 20000]

1. `recipients.selectors.suppressed_addresses` for a batch of 100 addresses, as a worker asks
   it before each provider call, against the same lookup without the hashes (a plain
   `email IN (…)`), with 1% of the suppressions stored as hashes. Prints both per call and
   the ratio.
2. `purge_messages`' blank pass over old delivered messages (6 KB bodies), batch size 500:
   prints the rows per second and the longest batch transaction, which is how long the purge
   holds any row lock.
"""

import argparse
import time
from datetime import timedelta

from harness import free_port, prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suppressions", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    prepare(sandbox_port=free_port())
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from queueing.models import Message
    from queueing.retention.passes import PASSES, run_pass
    from queueing.retention.policy import policy
    from recipients.forgotten import forgotten_label
    from recipients.models import Suppression
    from recipients.selectors import suppressed_addresses

    call_command("migrate", verbosity=0, interactive=False)
    Suppression.objects.all().delete()
    Suppression.objects.bulk_create(
        Suppression(
            email=forgotten_label(f"s{i}@example.com") if i % 100 == 0 else f"s{i}@example.com",
            reason="hard_bounce",
        )
        for i in range(args.suppressions)
    )
    batch = [f"Person <s{i * 997 % args.suppressions}@example.com>" for i in range(100)]
    bare = [a.split("<")[1].rstrip(">") for a in batch]

    def timed(call) -> float:
        call()  # warm
        start = time.perf_counter()
        for _ in range(args.rounds):
            call()
        return (time.perf_counter() - start) / args.rounds * 1000

    with_hashes = timed(lambda: suppressed_addresses(batch, marketing=False))
    plain = timed(lambda: list(Suppression.objects.filter(email__in=bare).values_list("email")))
    print(
        f"suppression check, 100 addresses, {args.suppressions:,} suppressions: "
        f"{with_hashes:.2f} ms with hashes, {plain:.2f} ms plain lookup, "
        f"ratio {with_hashes / plain:.2f}"
    )

    Message.objects.filter(subject="retention-bench").delete()
    body = "Spring news for you, with a link. " * 180
    old = timezone.now() - timedelta(days=200)
    for start in range(0, args.messages, 5000):
        Message.objects.bulk_create(
            Message(
                to=[f"p{i}@example.com"], subject="retention-bench", html=body, text=body,
                from_email="news@example.com", status="delivered",
                idempotency_key=f"retention-bench-{i}",
            )
            for i in range(start, min(start + 5000, args.messages))
        )  # fmt: skip
    Message.objects.filter(subject="retention-bench").update(created_at=old)
    rules = policy(older_than=timedelta(days=90), delete=False)
    blank = next(p for p in PASSES if p.name == "blank")
    longest = 0.0
    original = blank.apply

    def apply_timed(ids, rules_):
        nonlocal longest
        start = time.perf_counter()
        with transaction.atomic():
            counts = original(ids, rules_)
        longest = max(longest, time.perf_counter() - start)
        return counts

    timed_pass = blank.__class__(blank.name, blank.label, blank.candidates, apply_timed)
    start = time.perf_counter()
    result = run_pass(timed_pass, rules)
    elapsed = time.perf_counter() - start
    print(
        f"blank pass: {result.rows:,} messages in {result.batches} batches, {elapsed:.1f} s "
        f"({result.rows / elapsed:,.0f} rows/s); longest batch transaction {longest * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
