"""What the workers' metrics cost per provider request (queueing.metrics).

    python benchmarks/metrics_cost.py [--requests 2000]

Times, in one process against the real Redis (BENCH_REDIS_URL, default db 13; only the
metrics' and live rates' keys are written, then deleted):
  - the live rates' pipeline a request already made before metrics existed (the baseline);
  - a request's full tally: the provider's answer, the request's outcome and duration, the
    limiter's wait, the messages' final status and each message's send latency, written with
    the live rates in one pipelined round trip — for a message sent alone and for a batch
    of 100;
  - the same tally's in-memory part alone (no Redis).
The difference between the first two is what metrics add to a request.
"""

import argparse
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailhub.settings")
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/mailhub-metrics-bench.sqlite3")
django.setup()

from queueing.connection import get_redis  # noqa: E402
from queueing.live_rates import live_rates_add  # noqa: E402
from queueing.metrics import catalogue, tally  # noqa: E402
from queueing.metrics.tally import Tally  # noqa: E402


def request_tally(messages: int) -> None:
    with tally.request_tally():
        tally.note_answer("resend", 200, "")
        tally.observe(catalogue.RATELIMIT_WAIT, 0.0)
        tally.count_on_commit(catalogue.MESSAGES, Counter({("sent", "bulk"): messages}))
        tally.observe_on_commit(
            catalogue.SEND_LATENCY, [(("bulk",), 0.5 + i / 100) for i in range(messages)]
        )
        live_rates_add({"sent": messages})
        tally.count(catalogue.PROVIDER_REQUESTS, kind="batch", outcome="sent")
        tally.observe(catalogue.PROVIDER_REQUEST_SECONDS, 0.12, kind="batch")


def in_memory(messages: int) -> None:
    t = Tally()
    t.count(catalogue.PROVIDER_ANSWERS, ("resend", "200", "none"), 1)
    t.observe(catalogue.RATELIMIT_WAIT, (), 0.0)
    t.count(catalogue.MESSAGES, ("sent", "bulk"), messages)
    for i in range(messages):
        t.observe(catalogue.SEND_LATENCY, ("bulk",), 0.5 + i / 100)
    t.count(catalogue.PROVIDER_REQUESTS, ("batch", "sent"), 1)
    t.observe(catalogue.PROVIDER_REQUEST_SECONDS, ("batch",), 0.12)


def timed(label: str, run: Callable[[], None], n: int) -> float:
    """Best of five runs of n calls: wall time and this process's CPU time per call."""
    walls, cpus = [], []
    for _ in range(5):
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            run()
        walls.append((time.perf_counter() - started) / n * 1e6)
        cpus.append((time.process_time() - cpu) / n * 1e6)
    print(
        f"{label:<52} {min(walls):8.1f} µs wall (median {statistics.median(walls):.1f}), "
        f"{min(cpus):6.1f} µs CPU"
    )
    return min(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    n = parser.parse_args().requests
    redis = get_redis()
    redis.ping()
    base = timed("before: live rates only (one round trip)", lambda: live_rates_add({"sent": 1}), n)
    single = timed("after: full tally, message alone (one round trip)", lambda: request_tally(1), n)
    batch = timed("after: full tally, batch of 100 (one round trip)", lambda: request_tally(100), n)
    timed("tally in memory only, message alone", lambda: in_memory(1), n)
    timed("tally in memory only, batch of 100", lambda: in_memory(100), n)
    print(f"added per request: alone {single - base:+.1f} µs, batch of 100 {batch - base:+.1f} µs")
    for key in redis.scan_iter("mailhub:metrics:*"):
        redis.delete(key)
    for key in redis.scan_iter("mailhub:rate:*"):
        redis.delete(key)


if __name__ == "__main__":
    main()
