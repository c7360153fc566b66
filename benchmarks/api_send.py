"""The HTTP API under load: mailhub's `POST /api/emails` against a floor, both served by
gunicorn with 2 workers on PostgreSQL (issue 12's targets in brackets).

    python benchmarks/api_send.py [--quick] [--rounds 3] [--seconds 10]
    python benchmarks/run.py --only api          # the same, through the suite

- throughput, closed loop: Debian's `wrk` (installed with apt-get when missing and root), 16
  connections, one JSON email per request; mailhub's requests/s and the floor's, alternately,
  for --rounds rounds; the ratio of the medians [>= 0.5], and every answer 2xx [zero errors].
  The floor (benchmarks/api_floor.py) is a bare Django view that checks the key with one
  indexed lookup and inserts one row;
- latency, open loop: an asyncio client sends at a fixed rate of half mailhub's median
  throughput, on schedule whatever the answers, and times each request from the moment it was
  due (a late request counts its wait) [p99 <= 50 ms];
- `POST /api/emails/batch` with 100 emails, closed loop [>= 5,000 emails/s];
- afterwards the rows are counted: every 2xx answer is a row, and there is nothing extra.

No workers run (messages just queue), but Redis is on: each commit asks for a drain there.
Database: BENCH_DATABASE_URL, default postgres://root@127.0.0.1:5432/bench_api (created on
first use); Redis: BENCH_REDIS_URL, default database 13. gunicorn's own log goes to var/.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import ROOT, VAR, cpu_seconds, free_port, prepare, reset_state

HERE = Path(__file__).resolve().parent
LUA = HERE / "api_send.lua"
DEFAULT_DATABASE = "postgres://root@127.0.0.1:5432/bench_api"
EMAIL = {
    "from": "Shop <orders@example.com>",
    "to": ["customer@example.com"],
    "subject": "Your order 10042 has shipped",
    "html": "<p>Hello Ada,</p><p>Your order <b>10042</b> is on its way.</p>",
}
BATCH_SIZE = 100
IDLE_REUSE_SECONDS = 1.0


@dataclass
class Row:
    benchmark: str
    figure: str
    value: str
    target: str = ""


@dataclass
class Server:
    name: str
    url: str
    key: str
    process: subprocess.Popen


@dataclass
class LoadResult:
    ok: int
    refused: int
    errors: int  # socket errors and timeouts
    seconds: float
    cpu: float  # CPU seconds of the gunicorn workers
    database_cpu: float  # CPU seconds of the database's backends

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package when missing (root only)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: install it (Debian/Ubuntu: `sudo apt-get install wrk`).")
    print("installing wrk with apt-get ...", file=sys.stderr, flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, **quiet).returncode:
        subprocess.run(["apt-get", "update", "-q"], check=True, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, **quiet)
    return shutil.which("wrk") or "wrk"


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue  # gone while we looked
    return pids


def database_backends_cpu() -> dict[int, float]:
    """CPU used so far by each of this database's PostgreSQL backends (none on SQLite);
    PostgreSQL's other users on the machine are not counted."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    used = {}
    for pid in pids:
        try:
            used[pid] = cpu_seconds(pid)
        except OSError:
            continue  # ended while we looked
    return used


def database_cpu_since(before: dict[int, float]) -> float:
    """CPU the backends used since `before`: a backend that began meanwhile counts whole, one
    that ended (CONN_MAX_AGE recycles connections) is missed, so this is a lower bound."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in database_backends_cpu().items())


def workers_cpu(server: Server) -> float:
    total = 0.0
    for pid in worker_pids(server.process.pid):
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue
    return total


@contextmanager
def gunicorn(
    name: str, app: str, settings: str, key: str, args: argparse.Namespace
) -> Iterator[Server]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        f"--workers={args.workers}",
        f"--worker-class={args.worker_class}",
        f"--threads={args.threads}",
        f"--bind=127.0.0.1:{port}",
        f"--pythonpath={ROOT},{HERE}",
        "--log-level=warning",
    ]
    log = open(VAR / f"bench-gunicorn-{name}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": settings},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn ({name}) did not start: see {log.name}") from None
                time.sleep(0.1)
        yield Server(name, f"http://127.0.0.1:{port}", key, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def run_wrk(
    wrk: str, server: Server, path: str, body: Path, seconds: float, connections: int
) -> LoadResult:
    """A closed-loop run. Each wrk thread has one connection and stops right after its first
    answer past `seconds` (api_send.lua); once all have, wrk is told to finish (SIGINT), so
    no request is left unanswered and every row created had its answer counted."""
    done_file = VAR / "bench-api-wrk-done"
    done_file.write_text("")
    cpu_before, database_before = workers_cpu(server), database_backends_cpu()
    process = subprocess.Popen(
        [
            wrk,
            f"--threads={connections}",
            f"--connections={connections}",
            f"--duration={round(seconds) + 120}s",  # a bound only: the script stops the threads
            "--timeout=10s",
            f"--script={LUA}",
            server.url + path,
        ],
        env={
            **os.environ,
            "BENCH_BODY_FILE": str(body),
            "BENCH_DONE_FILE": str(done_file),
            "BENCH_API_KEY": server.key,
            "BENCH_SECONDS": str(seconds),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + seconds + 60
    while done_file.read_text().count("stopped") < connections:
        if process.poll() is not None or time.monotonic() > deadline:
            print(f"  {server.name}: not every wrk thread stopped cleanly", file=sys.stderr)
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    cpu = workers_cpu(server) - cpu_before
    database_cpu = database_cpu_since(database_before)
    found = re.search(r"^BENCH (.*)$", out, re.MULTILINE)
    if not found:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    counts = {k: int(v) for k, v in (p.split("=") for p in found.group(1).split())}
    refusal = re.search(r"^BENCH first refusal: (.*)$", out, re.MULTILINE)
    if refusal:
        print(f"  {server.name}: first refusal: {refusal.group(1)}", file=sys.stderr)
    errors = sum(counts[k] for k in ("connect", "read", "write", "timeout"))
    seconds = counts["us"] / 1e6
    return LoadResult(counts["ok"], counts["refused"], errors, seconds, cpu, database_cpu)


# --- the open-loop client --------------------------------------------------------------------


async def _exchange(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
) -> tuple[int, bool]:
    """Send one request on a keep-alive connection; (status, connection still usable)."""
    reader, writer = conn
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length, reusable = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            reusable = False
    await reader.readexactly(length)
    return status, reusable


async def open_loop(
    server: Server, body: bytes, rate: float, seconds: float
) -> tuple[list[float], dict[int, int], int, int]:
    """Requests due every 1/rate s, each sent when due on an idle connection (a new one when
    none is idle); latency from the due time. Returns (latencies, statuses, errors,
    connections opened)."""
    host, port = server.url.removeprefix("http://").split(":")
    request = (
        f"POST /api/emails HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {server.key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    # (reader, writer, idle since): a connection idle longer than gunicorn's keep-alive (2 s)
    # may be closed by the server as we reuse it; clients drop those first, and so do we.
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = opened = 0
    error_kinds: dict[str, int] = {}

    async def one(due: float) -> None:
        nonlocal errors, opened
        conn = None
        while idle and conn is None:
            reader, writer, since = idle.pop()
            if loop.time() - since < IDLE_REUSE_SECONDS:
                conn = (reader, writer)
            else:
                writer.close()
        try:
            if conn is None:
                conn = await asyncio.open_connection(host, int(port))
                opened += 1
            status, reusable = await _exchange(conn, request)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            errors += 1
            error_kinds[type(exc).__name__] = error_kinds.get(type(exc).__name__, 0) + 1
            if conn is not None:
                conn[1].close()
            return
        latencies.append(loop.time() - due)
        statuses[status] = statuses.get(status, 0) + 1
        if reusable:
            idle.append((*conn, loop.time()))
        else:
            conn[1].close()

    tasks = []
    start = loop.time() + 0.05
    for i in range(int(rate * seconds)):
        due = start + i / rate
        if (delay := due - loop.time()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    for _, writer, _ in idle:
        writer.close()
    if error_kinds:
        print(f"  open loop errors: {error_kinds}", file=sys.stderr)
    return latencies, statuses, errors, opened


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP API benchmark: mailhub against a floor")
    parser.add_argument("--quick", action="store_true", help="tiny runs, for a smoke test")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per server")
    parser.add_argument("--seconds", type=float, default=10, help="each throughput run")
    parser.add_argument("--warm-seconds", type=float, default=2, help="warm-up, each server")
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--batch-seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch-connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=4, help="per gthread worker")
    parser.add_argument("--tsv", action="store_true", help="rows as tab-separated values")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.warm_seconds = 1, 2, 1
        args.latency_seconds = args.batch_seconds = 2

    wrk = ensure_wrk()
    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    prepare(sandbox_port=free_port())
    reset_state()
    from queueing.api_keys import api_key_create
    from queueing.models import ApiIdempotencyKey, ApiKey, Message

    ApiIdempotencyKey.objects.all().delete()
    ApiKey.objects.all().delete()
    mailhub_key = api_key_create(name="benchmark: mailhub", scopes=["send"])
    floor_key = api_key_create(name="benchmark: floor", scopes=["send"])
    single = VAR / "bench-api-email.json"
    single.write_text(json.dumps(EMAIL))
    batch = VAR / "bench-api-batch.json"
    batch.write_text(
        json.dumps([{**EMAIL, "to": [f"customer{i}@example.com"]} for i in range(BATCH_SIZE)])
    )
    # 2xx answers per key: each must be exactly one row (a batch answer, BATCH_SIZE rows).
    expected = {"mailhub": 0, "floor": 0}
    results: dict[str, list[LoadResult]] = {"mailhub": [], "floor": []}

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with (
        gunicorn(
            "mailhub", "mailhub.wsgi:application", "mailhub.settings", mailhub_key.secret, args
        ) as mailhub,
        gunicorn(
            "floor",
            "django.core.wsgi:get_wsgi_application()",
            "api_floor_settings",
            floor_key.secret,
            args,
        ) as floor,
    ):
        servers = {"mailhub": mailhub, "floor": floor}
        for name, server in servers.items():  # load both workers' code and connections
            warm = run_wrk(wrk, server, "/api/emails", single, args.warm_seconds, args.connections)
            expected[name] += warm.ok
        for round_ in range(1, args.rounds + 1):
            for name, server in (("floor", floor), ("mailhub", mailhub)):
                result = run_wrk(wrk, server, "/api/emails", single, args.seconds, args.connections)
                expected[name] += result.ok
                results[name].append(result)
                log(
                    f"round {round_} {name}: {result.rate:,.0f} requests/s, "
                    f"{result.refused} refused, {result.errors} socket errors, "
                    f"CPU ms per request: {1000 * result.cpu / max(result.ok, 1):.2f} workers, "
                    f"{1000 * result.database_cpu / max(result.ok, 1):.2f} PostgreSQL"
                )

        mailhub_rate = statistics.median(r.rate for r in results["mailhub"])
        rate = mailhub_rate / 2
        log(f"open loop at {rate:,.0f} requests/s for {args.latency_seconds:.0f} s ...")
        latencies, statuses, latency_errors, opened = asyncio.run(
            open_loop(mailhub, single.read_bytes(), rate, args.latency_seconds)
        )
        expected["mailhub"] += sum(n for s, n in statuses.items() if 200 <= s < 300)

        log(f"batches of {BATCH_SIZE} for {args.batch_seconds:.0f} s ...")
        batches = run_wrk(
            wrk, mailhub, "/api/emails/batch", batch, args.batch_seconds, args.batch_connections
        )
        expected["mailhub"] += batches.ok * BATCH_SIZE

    rows_by_key = {
        "mailhub": Message.objects.filter(api_key=mailhub_key.api_key).count(),
        "floor": Message.objects.filter(api_key=floor_key.api_key).count(),
    }
    total_rows = Message.objects.count()

    def spread(values: list[float], fmt: str) -> str:
        middle = format(statistics.median(values), fmt)
        if len(values) == 1:
            return middle
        return f"{middle} ({format(min(values), fmt)}-{format(max(values), fmt)})"

    m, f = results["mailhub"], results["floor"]
    ratio = statistics.median(r.rate for r in m) / statistics.median(r.rate for r in f)
    refused = sum(r.refused + r.errors for r in m + f)
    non_2xx = sum(n for s, n in statuses.items() if not 200 <= s < 300)
    setup = f"gunicorn {args.workers} x {args.worker_class}"
    if args.worker_class == "gthread":
        setup += f" ({args.threads} threads)"
    table = [
        Row("api", "set-up", f"{setup}, {args.connections} connections"),
        Row(
            "api",
            "floor requests/s, median (range)",
            spread([r.rate for r in f], ",.0f"),
        ),
        Row("api", "mailhub POST /emails requests/s", spread([r.rate for r in m], ",.0f")),
        Row("api", "mailhub / floor", f"{ratio:.2f}", ">= 0.5"),
        Row("api", "non-2xx answers and socket errors", str(refused), "0"),
        Row(
            "api",
            "worker CPU ms per request, floor / mailhub",
            f"{spread([1000 * r.cpu / max(r.ok, 1) for r in f], '.2f')} / "
            f"{spread([1000 * r.cpu / max(r.ok, 1) for r in m], '.2f')}",
        ),
        Row(
            "api",
            "PostgreSQL CPU ms per request, floor / mailhub",
            f"{spread([1000 * r.database_cpu / max(r.ok, 1) for r in f], '.2f')} / "
            f"{spread([1000 * r.database_cpu / max(r.ok, 1) for r in m], '.2f')}",
        ),
        Row(
            "api",
            f"open loop at {rate:,.0f}/s: p50 / p90 / p99 / max",
            " / ".join(f"{1000 * percentile(latencies, q):.1f}" for q in (0.5, 0.9, 0.99, 1.0))
            + " ms",
            "p99 <= 50 ms",
        ),
        Row(
            "api",
            "open loop: requests / non-2xx / errors / connections",
            f"{len(latencies) + latency_errors} / {non_2xx} / {latency_errors} / {opened}",
        ),
        Row(
            "api",
            f"POST /emails/batch ({BATCH_SIZE}) emails/s",
            f"{batches.rate * BATCH_SIZE:,.0f}",
            ">= 5,000",
        ),
        Row("api", "batch non-2xx and errors", str(batches.refused + batches.errors), "0"),
        Row(
            "api",
            "batch CPU ms per email: workers / PostgreSQL",
            f"{1000 * batches.cpu / max(batches.ok * BATCH_SIZE, 1):.3f} / "
            f"{1000 * batches.database_cpu / max(batches.ok * BATCH_SIZE, 1):.3f}",
        ),
        Row(
            "api",
            "rows: mailhub 2xx / rows",
            f"{expected['mailhub']:,} / {rows_by_key['mailhub']:,}",
            "equal",
        ),
        Row(
            "api",
            "rows: floor 2xx / rows",
            f"{expected['floor']:,} / {rows_by_key['floor']:,}",
            "equal",
        ),
        Row(
            "api",
            "rows in all / expected",
            f"{total_rows:,} / {sum(expected.values()):,}",
            "equal",
        ),
    ]
    if args.tsv:
        for r in table:
            print("\t".join((r.benchmark, r.figure, r.value, r.target)))
    else:
        widths = [max(len(getattr(r, x)) for r in table) for x in ("figure", "value")]
        for r in table:
            print(f"{r.figure.ljust(widths[0])}  {r.value.ljust(widths[1])}  {r.target}")
    if rows_by_key != expected or total_rows != sum(expected.values()):
        raise SystemExit("ROW COUNT MISMATCH: a 2xx answer without its row, or a row too many")


if __name__ == "__main__":
    main()
