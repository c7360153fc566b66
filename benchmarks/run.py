"""mailhub's benchmark suite: one command, one table.

    python benchmarks/run.py [--quick] [--only NAME ...]

Every figure is measured through the real parts: real `rqworker` processes, real Redis
(database 13, or BENCH_REDIS_URL), the database (var/bench.sqlite3, or BENCH_DATABASE_URL,
e.g. postgres://root@127.0.0.1:5432/bench) and the Resend sandbox as its own process, with
its validation on. Rates are measured where the provider sees them: from the sandbox's log of
the requests it received.

Benchmarks (targets from the issues in brackets):
  unlimited   campaign-style bulk send, no rate limit, 2 workers: emails/s, requests/s, CPU
  ratelimited a 10,000-recipient campaign at 2 requests/s [>= 180 emails/s, zero 429s]
  burst       10,000 transactional messages accepted at once at 2 requests/s [>= 150 emails/s]
  latency     accept → provider call for lone transactional messages, idle system [p50 < 200 ms]
  fanout      campaign fan-out rate (benchmarks/campaign_fanout.py, when campaigns exist)
  api         the HTTP API under gunicorn on PostgreSQL against a bare Django floor
              (benchmarks/api_send.py) [requests/s >= 0.5 x floor, p99 <= 50 ms,
              batch >= 5,000 emails/s]
  webhooks    Resend's signed webhooks under gunicorn on PostgreSQL, 2 real workers applying
              them to 10,000 sent messages (benchmarks/webhooks.py) [>= 1,000 events/s
              accepted, p99 <= 100 ms at 1,000/s, a 100,000-event burst drained <= 60 s]
  send-floor  a 100,000-recipient campaign and 10,000 transactional messages, 2 workers, on
              PostgreSQL against a no-ORM floor in the same run (benchmarks/send_vs_floor.py)
              [>= 0.75 x floor]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness import (
    free_port,
    prepare,
    reset_state,
    sandbox_process,
    start_worker,
    stop_workers,
    wait_campaign_sent,
)

ACCEPT_CHUNK = 100  # like one API batch call


@dataclass
class Row:
    benchmark: str
    figure: str
    value: str
    target: str = ""


def accept(count: int, *, priority: str, prefix: str) -> tuple[float, float]:
    """Accept `count` messages in groups of 100; returns (first accept, last accept) times."""
    from queueing.services import messages_create_many

    first = time.time()
    for start in range(0, count, ACCEPT_CHUNK):
        messages_create_many(
            [
                {
                    "to": [f"{prefix}{i}@example.com"],
                    "subject": f"Hello {i}",
                    "html": f"<p>Hello number {i}</p>",
                    "priority": priority,
                }
                for i in range(start, min(start + ACCEPT_CHUNK, count))
            ]
        )
    return first, time.time()


def wait_all_sent(count: int, timeout: float) -> None:
    from queueing.models import PENDING_STATUSES, Message

    deadline = time.monotonic() + timeout
    while Message.objects.filter(status__in=PENDING_STATUSES).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark timed out: messages still pending after {timeout} s")
        time.sleep(0.2)
    sent = Message.objects.filter(status="sent").count()
    if sent != count:
        raise SystemExit(f"only {sent} of {count} messages were sent")


def provider_window(control) -> tuple[list[dict], float, float]:
    requests = [r for r in control.requests() if r["path"].startswith("/emails")]
    accepted = [r for r in requests if r["status"] == 200]
    return requests, min(r["time"] for r in accepted), max(r["time"] for r in accepted)


def stop(workers: list[subprocess.Popen]) -> float:
    """Stop the workers; returns the CPU seconds they (and their job processes) used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop_workers(workers)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_unlimited(control, count: int) -> list[Row]:
    control.configure(rate_limit=0)
    accept(count, priority="bulk", prefix="bulk")
    resource_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = [start_worker("--burst", env={"RESEND_RATE_LIMIT": "0"}) for _ in range(2)]
    for worker in workers:
        worker.wait()
    resource_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (resource_after.ru_utime - resource_before.ru_utime) + (
        resource_after.ru_stime - resource_before.ru_stime
    )
    wait_all_sent(count, 60)
    requests, first, last = provider_window(control)
    seconds = max(last - first, 1e-6)
    return [
        Row("unlimited", "emails/s (2 workers)", f"{count / seconds:,.0f}", ">= 1,000"),
        Row("unlimited", "requests/s", f"{len(requests) / seconds:,.1f}"),
        Row("unlimited", "worker CPU s per 1,000 emails", f"{1000 * cpu / count:.2f}"),
    ]


def bench_rate_limited(control, count: int, *, priority: str, name: str, target: str) -> list[Row]:
    """`bulk`: a real campaign (fan-out, rendering, batches); `transactional`: a burst of
    messages accepted in groups of 100 while the workers already run."""
    control.configure(rate_limit=2)
    campaign = None
    if priority == "bulk":
        from campaign_seed import make_campaign, seed_audience

        audience, _ = seed_audience(count)
        campaign = make_campaign(audience)
    workers = [start_worker(env={"RESEND_RATE_LIMIT": "2"}) for _ in range(2)]
    time.sleep(2)  # let the workers start before the clock starts
    if campaign is not None:
        from campaigns.services import campaign_send

        first_accept = time.time()
        campaign_send(campaign=campaign)
        wait_campaign_sent(campaign, 600)
    else:
        first_accept, _ = accept(count, priority=priority, prefix=name)
    wait_all_sent(count, 600)
    stop(workers)
    requests, first, last = provider_window(control)
    stats = control.stats()
    start = first_accept if priority == "transactional" else first
    rate = count / max(last - start, 1e-6)
    clock = "first accept" if priority == "transactional" else "first provider request"
    return [
        Row(name, f"emails/s ({clock} → last acceptance)", f"{rate:,.0f}", target),
        Row(
            name,
            "provider requests / 429 answers",
            f"{len(requests)} / {stats['rate_limited']}",
            "no 429",
        ),
        Row(
            name,
            "most requests in any 1 s window",
            str(stats["max_requests_in_any_1s_window"]),
            "<= 2",
        ),
    ]


def bench_latency(control, samples: int) -> list[Row]:
    from queueing.services import message_create

    control.configure(rate_limit=0)
    workers = [start_worker(env={"RESEND_RATE_LIMIT": "2"}) for _ in range(2)]
    time.sleep(3)
    latencies = []
    for i in range(samples):
        accepted_at = time.time()
        message_create(to=[f"lat{i}@example.com"], subject="Your code", text=f"{i:06d}")
        deadline = time.monotonic() + 10
        while True:
            hits = [r for r in control.requests() if r["path"] == "/emails"]
            if len(hits) > i:
                latencies.append(hits[i]["time"] - accepted_at)
                break
            if time.monotonic() > deadline:
                raise SystemExit("a lone message was not sent within 10 s")
            time.sleep(0.002)
        time.sleep(0.6)  # idle again (and outside the previous rate-limit slot)
    stop(workers)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return [
        Row(
            "latency",
            "accept → provider call p50",
            f"{1000 * statistics.median(latencies):.0f} ms",
            "< 200 ms",
        ),
        Row("latency", "accept → provider call p99", f"{1000 * p99:.0f} ms"),
    ]


def bench_fanout(recipients: int) -> list[Row]:
    script = Path(__file__).with_name("campaign_fanout.py")
    if not script.exists():
        return [Row("fanout", "recipients/s", "n/a (campaigns not built yet)")]
    out = (
        subprocess.run(
            [sys.executable, str(script), "--recipients", str(recipients)],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()
    )
    return [Row("fanout", "output", line) for line in out[-3:]]


def _own_process(name: str, quick: bool, *args: str) -> list[Row]:
    """benchmarks/NAME in its own process (it needs PostgreSQL and gunicorn): its --tsv rows."""
    script = Path(__file__).with_name(name)
    out = subprocess.run(
        [sys.executable, str(script), "--tsv", *(["--quick"] if quick else []), *args],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout
    return [Row(*line.split("\t")) for line in out.strip().splitlines() if line.count("\t") == 3]


def bench_api(quick: bool) -> list[Row]:
    return _own_process("api_send.py", quick)


def bench_webhooks(quick: bool) -> list[Row]:
    return _own_process("webhooks.py", quick)


def bench_send_floor(quick: bool) -> list[Row]:
    """Both kinds of sending against their floor (benchmarks/send_vs_floor.py): PostgreSQL."""
    if not os.environ.get("BENCH_DATABASE_URL", "").startswith("postgres"):
        return [Row("send-floor", "mailhub / floor", "n/a (needs BENCH_DATABASE_URL: PostgreSQL)")]
    return [
        row
        for kind in ("campaign", "transactional")
        for row in _own_process("send_vs_floor.py", quick, "--kind", kind)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="mailhub benchmark suite")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    size = 2000 if args.quick else 10_000

    port = free_port()
    prepare(sandbox_port=port)
    from sandbox import SandboxControl

    plan: list[tuple[str, Callable]] = [
        ("unlimited", lambda c: bench_unlimited(c, size)),
        (
            "ratelimited",
            lambda c: bench_rate_limited(
                c, size, priority="bulk", name="ratelimited", target=">= 180"
            ),
        ),
        (
            "burst",
            lambda c: bench_rate_limited(
                c, size, priority="transactional", name="burst", target=">= 150"
            ),
        ),
        ("latency", lambda c: bench_latency(c, 20 if args.quick else 50)),
    ]
    rows: list[Row] = []
    with sandbox_process(port) as url:
        control = SandboxControl(url)
        for name, run in plan:
            if args.only and name not in args.only:
                continue
            reset_state()
            control.reset()
            print(f"running {name} ...", file=sys.stderr, flush=True)
            rows += run(control)
    if not args.only or "fanout" in args.only:
        rows += bench_fanout(10_000 if args.quick else 100_000)
    if not args.only or "api" in args.only:
        rows += bench_api(args.quick)
    if not args.only or "webhooks" in args.only:
        rows += bench_webhooks(args.quick)
    if not args.only or "send-floor" in args.only:
        rows += bench_send_floor(args.quick)

    widths = [max(len(getattr(r, f)) for r in rows) for f in ("benchmark", "figure", "value")]
    header = ("benchmark", "figure", "value", "target")
    print("  ".join(h.ljust(w) for h, w in zip(header, [*widths, 0], strict=True)))
    for r in rows:
        print(
            f"{r.benchmark.ljust(widths[0])}  {r.figure.ljust(widths[1])}  "
            f"{r.value.ljust(widths[2])}  {r.target}"
        )


if __name__ == "__main__":
    main()
