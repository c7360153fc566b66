"""Resend's webhooks under load: signed events posted at mailhub's `POST /webhooks/resend`,
served by gunicorn with 2 workers on PostgreSQL, while real workers process them (issue 13's
targets in brackets).

    python benchmarks/webhooks.py [--events 100000] [--concurrency 8] [--workers 2]
    python benchmarks/webhooks.py --quick        # a smoke test: 2,000 events

- the burst: --events events (delivered / opened / clicked / bounced for --messages sent
  messages, each event its own svix-id), signed beforehand with the sandbox's Svix signer, posted
  closed-loop on --concurrency keep-alive connections; accepted events/s (2xx answers over the
  burst's wall time) [>= 1,000/s] and the p50/p99 of each request's time [p99 <= 100 ms];
- the drain: --workers `rqworker transactional events bulk` processes run during the burst;
  after it, the raw event table is polled until every row is processed; the time from the
  burst's end to then [<= 60 s for 100,000 events].

The raw event table is evcore's (issue 13): its model and "processed" field are the constants
below; if the model does not exist yet the drain is skipped with a note.
Database: BENCH_DATABASE_URL, default postgres://root@127.0.0.1:5432/bench_webhooks (created
on first use); Redis: BENCH_REDIS_URL, default database 13. gunicorn's log goes to var/.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

from harness import ROOT, free_port, prepare, reset_state, stop_workers

# The raw event table (evcore decides the names; change them here if they differ).
RAW_EVENT_MODEL = "queueing.ProviderWebhookEvent"
RAW_EVENT_PROCESSED_FIELD = "processed_at"  # null until processed
RAW_EVENT_TABLES = ["queueing_providerwebhookevent"]  # emptied before the run
ENDPOINT = "/webhooks/resend"
DEFAULT_DATABASE = "postgres://root@127.0.0.1:5432/bench_webhooks"
# Events per message: a realistic spread, mostly deliveries and opens.
KINDS = ["email.sent", "email.delivered", "email.opened", "email.delivered", "email.clicked"]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def seed_messages(count: int) -> list[tuple[str, str]]:
    """`count` sent messages with a Resend id each; [(provider id, message uuid)]."""
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
    return [(m.provider_id, str(m.uuid)) for m in rows]


def signed_requests(count: int, messages: list[tuple[str, str]], secret: str) -> list[bytes]:
    """Whole HTTP requests, signed now (the 5-minute tolerance covers any sensible run)."""
    from sandbox.webhook_signing import new_message_id, secret_key, signed_headers

    key = secret_key(secret)
    timestamp = int(time.time())
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    requests = []
    for i in range(count):
        provider_id, message_uuid = messages[i % len(messages)]
        kind = KINDS[(i // len(messages)) % len(KINDS)]
        data = {
            "email_id": provider_id,
            "created_at": now,
            "from": "Shop <orders@example.com>",
            "to": ["customer@example.com"],
            "subject": "Your order has shipped",
            "tags": {"mailhub_message": message_uuid},
        }
        if kind == "email.clicked":
            data["click"] = {
                "link": "https://shop.example.com/",
                "ipAddress": "192.0.2.1",
                "timestamp": now,
                "userAgent": "bench",
            }
        body = json.dumps({"type": kind, "created_at": now, "data": data}).encode()
        headers = signed_headers(key, new_message_id(), timestamp, body)
        head = (
            f"POST {ENDPOINT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


async def burst(port: int, requests: list[bytes], concurrency: int):
    """Closed loop on `concurrency` keep-alive connections; (latencies, statuses, seconds)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(requests)

    async def exchange(reader, writer, request: bytes) -> tuple[int, bool] | None:
        """One request; (status, server closes) or None if the connection was already closed."""
        writer.write(request)
        line = await reader.readline()
        if not line:
            return None
        parts = line.split()
        if len(parts) < 2:
            raise RuntimeError(f"not an HTTP answer: {line!r}")
        status = int(parts[1])
        length, close, chunked = 0, False, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value == "close":
                close = True
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
        if not chunked:
            await reader.readexactly(length)
            return status, close
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)  # the chunk and its CRLF
        await reader.readline()  # the CRLF after the last (empty) chunk
        return status, close

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for request in queue:
            started = time.perf_counter()
            answer = await exchange(reader, writer, request)
            if answer is None:  # closed while idle: once more on a new connection
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                answer = await exchange(reader, writer, request)
                assert answer is not None, "the server closed a fresh connection"
            latencies.append(time.perf_counter() - started)
            statuses[answer[0]] = statuses.get(answer[0], 0) + 1
            if answer[1]:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, statuses, time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def unprocessed() -> int | None:
    """Raw events not processed yet; None if the raw event model does not exist (yet)."""
    from django.apps import apps

    try:
        model = apps.get_model(RAW_EVENT_MODEL)
    except LookupError:
        return None
    return model.objects.filter(**{f"{RAW_EVENT_PROCESSED_FIELD}__isnull": True}).count()


def main() -> None:
    parser = argparse.ArgumentParser(description="Resend webhook endpoint and processing")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=20_000, help="events spread over these")
    # gthread holds a keep-alive connection per thread: more connections than 2 x 4 threads
    # only wait in line (seconds, at gunicorn's keep-alive timeout).
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="per gthread gunicorn worker")
    parser.add_argument("--workers", type=int, default=2, help="rqworker processes")
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.events, args.messages = 2_000, 500

    from sandbox.webhook_signing import generate_secret

    secret = generate_secret()
    os.environ["RESEND_WEBHOOK_SECRETS"] = secret
    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    prepare(sandbox_port=free_port())
    reset_state()
    from django.db import connection

    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
        for table in [t for t in RAW_EVENT_TABLES if t in existing]:
            cursor.execute(f"DELETE FROM {table}")

    log(f"seeding {args.messages:,} sent messages, signing {args.events:,} events ...")
    requests = signed_requests(args.events, seed_messages(args.messages), secret)

    from api_send import gunicorn  # the same gunicorn set-up as the API benchmark

    server_args = argparse.Namespace(
        workers=args.gunicorn_workers, worker_class="gthread", threads=args.threads
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "transactional", "events", "bulk", "-v", "0"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.workers)
    ]
    try:
        with gunicorn(
            "webhooks", "mailhub.wsgi:application", "mailhub.settings", "", server_args
        ) as server:
            port = int(server.url.rsplit(":", 1)[1])
            log(f"posting {args.events:,} events on {args.concurrency} connections ...")
            latencies, statuses, seconds = asyncio.run(burst(port, requests, args.concurrency))
            burst_end = time.monotonic()
        accepted = sum(n for status, n in statuses.items() if 200 <= status < 300)
        print(f"accepted events/s\t{accepted / seconds:,.0f}\t[>= 1,000]")
        print(f"p50 ms\t{1000 * percentile(latencies, 0.50):.1f}")
        print(f"p99 ms\t{1000 * percentile(latencies, 0.99):.1f}\t[<= 100]")
        print(f"answers\t{json.dumps(statuses, sort_keys=True)}")

        left = unprocessed()
        if left is None:
            print(f"drain\tskipped: no model {RAW_EVENT_MODEL} (set RAW_EVENT_MODEL)")
            return
        while left and time.monotonic() - burst_end < args.drain_timeout:
            time.sleep(0.5)
            left = unprocessed()
        drained = time.monotonic() - burst_end
        verdict = (
            f"{drained:.1f}" if not left else f"not drained: {left:,} left after {drained:.0f}"
        )
        print(f"drain s after the burst\t{verdict}\t[<= 60 for 100,000]")
    finally:
        stop_workers(workers)


if __name__ == "__main__":
    main()
