"""Resend's webhooks under load: signed events posted at mailhub's `POST /webhooks/resend`,
served by gunicorn with 2 workers (gthread, 8 threads) on PostgreSQL, while 2 real `rqworker`
processes apply them to real messages (issue 13's targets in brackets).

    python benchmarks/webhooks.py                 # ~3 minutes; or: python benchmarks/run.py --only webhooks
    python benchmarks/webhooks.py --quick         # a smoke run: 500 messages, 6,000 events

Set-up: --messages sent messages (default 10,000, bulk-inserted, each with a Resend id and
its `mailhub_message` tag), then a stream of events about them, Resend's shape, in the order
Resend sends them (a round of `email.sent`, then deliveries with some bounces and delays,
then opens and clicks with a few complaints), with 3 % about emails mailhub does not know
and 1 % posted twice under the same svix-id (a retry). Each request is signed by the client
just before it is sent (the sandbox's Svix signer: HMAC-SHA256, microseconds), so every
timestamp is fresh. The client is asyncio on raw keep-alive streams, in this process.

1. warm-up: a few hundred events, closed loop;
2. latency, open loop: --rate events/s (default 1,000) for --latency-seconds, each sent when
   due on an idle connection, timed from when it was due (a late send counts its wait)
   [p99 <= 100 ms]; then the workers catch up;
3. the burst, closed loop: --events events (default 100,000) on --concurrency connections;
   accepted events/s (2xx answers over the burst's wall time) [>= 1,000/s];
4. the drain: from the burst's last answer until no raw event is left unprocessed
   [<= 60 s for 100,000 events];
5. checks: every 2xx is one raw row (a duplicate is 2xx and no row), none kept with an error.

CPU per event, from /proc: gunicorn's workers and PostgreSQL's backends over the burst (the
endpoint's cost), the RQ workers (and their work-horses) over burst + drain (processing), and
this client. Database: BENCH_DATABASE_URL, default
postgres://root@127.0.0.1:5432/bench_webhooks (created and migrated on first use); Redis:
BENCH_REDIS_URL, default database 13. gunicorn's log goes to var/.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from api_send import database_backends_cpu, gunicorn, worker_pids
from harness import ROOT, cpu_seconds, free_port, prepare, reset_state, stop_workers

ENDPOINT = "/webhooks/resend"
DEFAULT_DATABASE = "postgres://root@127.0.0.1:5432/bench_webhooks"
UNKNOWN_SHARE = 0.03  # events about emails mailhub never sent
DUPLICATE_SHARE = 0.01  # events posted again under the same svix-id (Resend's retries)
IDLE_REUSE_SECONDS = 1.0  # below gunicorn's 2 s keep-alive
# A connection is closed after this many requests and a new one opened. gunicorn's workers
# each accept connections: 8 opened at once, held for the whole run, mostly land on one
# worker (one core, its GIL), while Resend's senders come and go. Reconnecting lets the less
# busy worker take the next one, as it would in production.
REQUESTS_PER_CONNECTION = 50


@dataclass
class Row:
    benchmark: str
    figure: str
    value: str
    target: str = ""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the data --------------------------------------------------------------------------------


def seed_messages(count: int) -> list[tuple[str, str, str]]:
    """`count` sent messages, bulk-inserted; [(Resend id, message uuid, address)]."""
    from queueing.models import Message, MessageStatus

    rows = [
        Message(
            idempotency_key=f"bench-webhooks-{i}",
            from_email="Shop <orders@example.com>",
            from_domain="example.com",
            to=[f"customer{i}@example.com"],
            subject="Your order has shipped",
            text="On its way.",
            status=MessageStatus.SENT,
            provider_id=str(uuid.uuid4()),
        )
        for i in range(count)
    ]
    Message.objects.bulk_create(rows, batch_size=2000)
    return [(m.provider_id, str(m.uuid), m.to[0]) for m in rows]


def _kind(round_: int, rng: random.Random) -> str:
    """A message's `round_`-th event: sent, then delivered (or a bounce or delay), then opens
    and clicks with the odd complaint."""
    if round_ == 0:
        return "email.sent"
    draw = rng.random()
    if round_ == 1:
        if draw < 0.02:
            return "email.bounced/Permanent"
        if draw < 0.03:
            return "email.bounced/Transient"
        if draw < 0.04:
            return "email.delivery_delayed"
        return "email.delivered"
    if draw < 0.62:
        return "email.opened"
    if draw < 0.97:
        return "email.clicked"
    if draw < 0.975:
        return "email.complained"
    return "email.delivered"


def event_bodies(count: int, messages: list[tuple[str, str, str]], seed: int = 13) -> list[bytes]:
    """`count` event bodies in Resend's shape, round after round over the messages."""
    rng = random.Random(seed)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    bodies = []
    for i in range(count):
        provider_id, message_uuid, address = messages[i % len(messages)]
        kind = _kind(i // len(messages), rng)
        if rng.random() < UNKNOWN_SHARE:  # an email mailhub does not know (no tag of ours)
            provider_id, message_uuid, address = str(uuid.uuid4()), "", "someone@example.org"
        kind, _, bounce_type = kind.partition("/")
        data = {
            "email_id": provider_id,
            "created_at": now,
            "from": "Shop <orders@example.com>",
            "to": [address],
            "subject": "Your order has shipped",
            "tags": {"mailhub_message": message_uuid} if message_uuid else {},
        }
        if kind == "email.clicked":
            data["click"] = {
                "link": "https://shop.example.com/orders/10042",
                "ipAddress": "192.0.2.1",
                "timestamp": now,
                "userAgent": "Mozilla/5.0 (benchmark)",
            }
        elif kind == "email.bounced":
            data["bounce"] = {
                "type": bounce_type,
                "subType": "General",
                "message": "The recipient's mailbox does not exist.",
                "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
            }
        bodies.append(json.dumps({"type": kind, "created_at": now, "data": data}).encode())
    return bodies


class Signer:
    """Whole HTTP requests, signed when built (a fresh timestamp for each); a share of them
    repeat the previous request's svix-id and body, as Resend's retries do."""

    def __init__(self, secret: str, bodies: list[bytes], seed: int = 7) -> None:
        from queueing.resend.webhook_signing import new_message_id, secret_key, signed_headers

        self._key = secret_key(secret)
        self._new_id, self._headers = new_message_id, signed_headers
        self._bodies = iter(bodies)
        self._rng = random.Random(seed)
        self._last: tuple[str, bytes] | None = None
        self.duplicates = 0

    def next(self) -> bytes | None:
        if self._last is not None and self._rng.random() < DUPLICATE_SHARE:
            svix_id, body = self._last
            self.duplicates += 1
        else:
            body = next(self._bodies, None)
            if body is None:
                return None
            svix_id = self._new_id()
        self._last = (svix_id, body)
        headers = self._headers(self._key, svix_id, int(time.time()), body)
        return (
            f"POST {ENDPOINT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"svix-id: {headers['svix-id']}\r\nsvix-timestamp: {headers['svix-timestamp']}\r\n"
            f"svix-signature: {headers['svix-signature']}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body


# --- the client ------------------------------------------------------------------------------


@dataclass
class Answers:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    first_refusal: str = ""
    first_error: str = ""

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)


async def _exchange(reader, writer, request: bytes) -> tuple[int, bool, bytes]:
    """One request on a keep-alive connection; (status, reusable, body)."""
    writer.write(request)
    line = await reader.readline()
    if not line:
        raise ConnectionResetError("closed by the server")
    status = int(line.split()[1])
    length, reusable = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            reusable = False
    return status, reusable, await reader.readexactly(length)


def _note(answers: Answers, status: int, body: bytes) -> None:
    answers.statuses[status] = answers.statuses.get(status, 0) + 1
    if not 200 <= status < 300 and not answers.first_refusal:
        answers.first_refusal = f"{status} {body[:200]!r}"


async def closed_loop(port: int, signer: Signer, count: int, concurrency: int) -> Answers:
    """`count` requests on `concurrency` keep-alive connections, each sending its next
    request when the previous one is answered."""
    answers = Answers()
    left = count

    async def connection() -> None:
        nonlocal left
        conn = await asyncio.open_connection("127.0.0.1", port)
        used = 0
        while left > 0 and (request := signer.next()) is not None:
            left -= 1
            if used == REQUESTS_PER_CONNECTION:
                conn[1].close()
                conn, used = await asyncio.open_connection("127.0.0.1", port), 0
            used += 1
            started = time.perf_counter()
            try:
                status, reusable, body = await _exchange(*conn, request)
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                answers.errors += 1
                answers.first_error = answers.first_error or repr(exc)
                conn[1].close()
                conn = await asyncio.open_connection("127.0.0.1", port)
                continue
            answers.latencies.append(time.perf_counter() - started)
            _note(answers, status, body)
            if not reusable:
                conn[1].close()
                conn = await asyncio.open_connection("127.0.0.1", port)
        conn[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    answers.seconds = time.perf_counter() - started
    return answers


async def open_loop(port: int, signer: Signer, rate: float, seconds: float) -> Answers:
    """A request due every 1/rate s, sent when due on an idle connection (a new one when none
    is idle), whatever the answers; each timed from when it was due."""
    loop = asyncio.get_running_loop()
    # (reader, writer, idle since, requests made on it)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float, int]] = []
    answers = Answers()

    async def one(due: float, request: bytes) -> None:
        conn, used = None, 0
        while idle and conn is None:
            reader, writer, since, used = idle.pop()
            if loop.time() - since < IDLE_REUSE_SECONDS and used < REQUESTS_PER_CONNECTION:
                conn = (reader, writer)
            else:
                writer.close()
        try:
            if conn is None:
                conn, used = await asyncio.open_connection("127.0.0.1", port), 0
            status, reusable, body = await _exchange(*conn, request)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            answers.errors += 1
            answers.first_error = answers.first_error or f"{exc!r} (new connection: {used == 0})"
            if conn is not None:
                conn[1].close()
            return
        answers.latencies.append(loop.time() - due)
        _note(answers, status, body)
        if reusable:
            idle.append((*conn, loop.time(), used + 1))
        else:
            conn[1].close()

    tasks = []
    start = loop.time() + 0.05
    for i in range(int(rate * seconds)):
        due = start + i / rate
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        request = signer.next()
        if request is None:
            break
        tasks.append(asyncio.create_task(one(due, request)))
    await asyncio.gather(*tasks)
    answers.seconds = loop.time() - start
    for _, writer, _, _ in idle:
        writer.close()
    return answers


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


# --- measuring -------------------------------------------------------------------------------


def left_unprocessed() -> int:
    from queueing.provider_events.processing import pending

    return pending().count()


def wait_drained(timeout: float) -> tuple[float, int]:
    """Poll until nothing is left; (seconds waited, events left)."""
    started = time.monotonic()
    left = left_unprocessed()
    while left and time.monotonic() - started < timeout:
        time.sleep(0.25)
        left = left_unprocessed()
    return time.monotonic() - started, left


def process_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue  # ended while we looked
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description="Resend webhook endpoint and processing")
    parser.add_argument("--events", type=int, default=100_000, help="in the burst")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000, help="open loop, events/s")
    parser.add_argument("--latency-seconds", type=float, default=15)
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8, help="burst connections")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="per gthread gunicorn worker")
    parser.add_argument("--workers", type=int, default=2, help="rqworker processes")
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tsv", action="store_true", help="rows as tab-separated values")
    args = parser.parse_args()
    if args.quick:
        args.events, args.messages, args.latency_seconds, args.warm = 5_000, 500, 2, 100
        args.rate = min(args.rate, 250)

    from queueing.resend.webhook_signing import new_secret as generate_secret

    secret = generate_secret()
    os.environ["RESEND_WEBHOOK_SECRETS"] = secret  # read by the settings of every process
    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    prepare(sandbox_port=free_port())
    reset_state()  # raw events and forwarded deliveries included
    from django.db import connection

    total = args.warm + int(args.rate * args.latency_seconds) + args.events
    log(f"seeding {args.messages:,} sent messages and {total:,} events ...")
    messages = seed_messages(args.messages)
    signer = Signer(secret, event_bodies(total, messages))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics for the seeded rows, as autovacuum would
    connection.close()  # the gunicorn and worker processes hold their own

    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "transactional", "events", "bulk", "-v", "0"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.workers)
    ]
    server_args = argparse.Namespace(
        workers=args.gunicorn_workers, worker_class="gthread", threads=args.threads
    )
    load_before = os.getloadavg()[0]
    try:
        with gunicorn(
            "webhooks", "mailhub.wsgi:application", "mailhub.settings", "", server_args
        ) as server:
            port = int(server.url.rsplit(":", 1)[1])
            log(f"warm-up: {args.warm} events ...")
            warm = asyncio.run(closed_loop(port, signer, args.warm, args.concurrency))
            log(f"open loop: {args.rate:,.0f} events/s for {args.latency_seconds:.0f} s ...")
            latency = asyncio.run(open_loop(port, signer, args.rate, args.latency_seconds))
            caught_up, _ = wait_drained(args.drain_timeout)
            log(f"  the workers caught up {caught_up:.1f} s after the open loop")

            gunicorn_pids = worker_pids(server.process.pid)
            worker_pids_ = [w.pid for w in workers]
            split_before = [process_cpu([pid]) for pid in gunicorn_pids]
            cpu_before = (
                process_cpu(gunicorn_pids),
                database_backends_cpu(),
                process_cpu(worker_pids_),
                own_cpu(),
            )
            log(f"burst: {args.events:,} events on {args.concurrency} connections ...")
            burst = asyncio.run(closed_loop(port, signer, args.events, args.concurrency))
            burst_cpu = (
                process_cpu(gunicorn_pids) - cpu_before[0],
                sum(
                    cpu - cpu_before[1].get(pid, 0.0)
                    for pid, cpu in database_backends_cpu().items()
                ),
                own_cpu() - cpu_before[3],
            )
            split = [process_cpu([p]) - b for p, b in zip(gunicorn_pids, split_before, strict=True)]
            left_at_end = left_unprocessed()
            log(f"  {burst.ok / burst.seconds:,.0f} events/s; {left_at_end:,} left to process")
            drained, left = wait_drained(args.drain_timeout)
            processing_cpu = process_cpu(worker_pids_) - cpu_before[2]
    finally:
        stop_workers(workers)

    from queueing.models import ProviderWebhookEvent

    raw = ProviderWebhookEvent.objects
    ok_total = warm.ok + latency.ok + burst.ok
    duplicates = signer.duplicates
    with_error = raw.exclude(error="").count()
    unmatched = raw.filter(processed_at__isnull=False, message__isnull=True).count()
    statuses = _status_counts()
    non_2xx = sum(
        n for a in (warm, latency, burst) for s, n in a.statuses.items() if not 200 <= s < 300
    )
    refusal = burst.first_refusal or latency.first_refusal or warm.first_refusal
    if refusal:
        log(f"first refusal: {refusal}")
    for name, answers in (("warm-up", warm), ("open loop", latency), ("burst", burst)):
        if answers.errors:
            log(f"{name}: {answers.errors} socket errors, the first: {answers.first_error}")
    per_event = 1000 / max(burst.ok, 1)
    drain = f"{drained:.1f} s" if not left else f"not drained: {left:,} left after {drained:.0f} s"
    table = [
        Row(
            "webhooks",
            "set-up",
            f"gunicorn {args.gunicorn_workers} x gthread ({args.threads} threads), "
            f"{args.workers} rqworkers, {args.messages:,} messages",
        ),
        Row(
            "webhooks",
            f"burst of {args.events:,}, {args.concurrency} connections: accepted events/s",
            f"{burst.ok / burst.seconds:,.0f}",
            ">= 1,000",
        ),
        Row(
            "webhooks",
            "burst: p50 / p90 / p99 ms",
            " / ".join(f"{1000 * percentile(burst.latencies, q):.1f}" for q in (0.5, 0.9, 0.99)),
        ),
        Row(
            "webhooks",
            f"open loop at {args.rate:,.0f}/s: p50 / p90 / p99 / max ms",
            " / ".join(
                f"{1000 * percentile(latency.latencies, q):.1f}" for q in (0.5, 0.9, 0.99, 1.0)
            ),
            "p99 <= 100",
        ),
        Row("webhooks", "unprocessed at the burst's end", f"{left_at_end:,}"),
        Row("webhooks", "drained after the burst's end", drain, "<= 60 s for 100,000"),
        Row(
            "webhooks",
            "CPU ms per event: gunicorn / PostgreSQL (burst) / client",
            f"{burst_cpu[0] * per_event:.2f} / {burst_cpu[1] * per_event:.2f} / "
            f"{burst_cpu[2] * per_event:.2f}",
        ),
        Row(
            "webhooks",
            "gunicorn workers' CPU s in the burst, each",
            " / ".join(f"{cpu:.1f}" for cpu in split),
        ),
        Row(
            "webhooks",
            "CPU ms per event: rqworkers (burst + drain)",
            f"{processing_cpu * per_event:.2f}",
        ),
        Row(
            "webhooks",
            "2xx / duplicates / raw rows",
            f"{ok_total:,} / {duplicates:,} / {raw.count():,}",
            "2xx - duplicates = rows",
        ),
        Row(
            "webhooks",
            "non-2xx / socket errors / kept with an error",
            f"{non_2xx} / {warm.errors + latency.errors + burst.errors} / {with_error}",
            "0 / 0 / 0",
        ),
        Row("webhooks", "processed without a message (unknown emails)", f"{unmatched:,}"),
        Row("webhooks", "messages by status", json.dumps(statuses, sort_keys=True)),
        Row("webhooks", "load average (1 min) before", f"{load_before:.2f}"),
    ]
    if args.tsv:
        for r in table:
            print("\t".join((r.benchmark, r.figure, r.value, r.target)))
    else:
        widths = [max(len(getattr(r, x)) for r in table) for x in ("figure", "value")]
        for r in table:
            print(f"{r.figure.ljust(widths[0])}  {r.value.ljust(widths[1])}  {r.target}")
    if ok_total - duplicates != raw.count() or non_2xx or with_error or left:
        raise SystemExit("CHECK FAILED: see the rows above")


def _status_counts() -> dict[str, int]:
    from django.db.models import Count

    from queueing.models import Message

    return dict(Message.objects.values_list("status").annotate(n=Count("id")).order_by())


if __name__ == "__main__":
    main()
