"""Sending against its floor (issue 16, target 2): mailhub's workers and a no-ORM floor send the
same messages through the same sandbox, alternately first, and the ratio of their rates.

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/floor_bench \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/10 \\
        python benchmarks/send_vs_floor.py --kind campaign [--recipients 100000] [--runs 3]
    ... --kind transactional [--messages 10000] [--runs 3]

PostgreSQL only. One Resend sandbox, its own process, no rate limit, validation on, reset
before each side. Each side sends with 2 processes (`--workers`):

- mailhub: `manage.py rqworker` processes (a fork per drain job, as in production).
  Campaign: the clock starts at `campaign_send` (the click): the fan-out job, rendering and
  sending all run inside it. Transactional: the messages are accepted beforehand
  (`messages_create_many` in groups of 100), the drain requests are dropped, the workers
  start and listen, then one drain is asked for.
- floor (benchmarks/send_floor.py): claim, render (campaign) or nothing (transactional), one
  POST per 100, the outcome on each row, one timeline event per message, one counter update
  per batch; raw psycopg, no ORM, no RQ. The floor does not fan out: a campaign's rows are
  written before its clock by one INSERT … SELECT (benchmarks/fanout_floor.py), from the same
  frozen campaign; transactional messages are accepted exactly as for mailhub.

Rates: messages / (last acceptance - start), the acceptance times from the sandbox. Start:
mailhub's click (campaign) or first claim (transactional, the earliest `first_attempt_at`);
the floor's first claim. Also first → last acceptance for both. Exactly once: the sandbox
accepted as many emails as there are messages, every row is `sent`, the counter matches.
Before each side the message table is analysed (all sent) and then emptied: both sides
start with the statistics of a table of sent mail, as in production when a burst arrives.
CPU per 1,000 emails: the sending processes (workers with their job processes; the floor's
processes), this database's PostgreSQL backends (sampled every 100 ms; a backend's last
<100 ms before it exits is missed), the sandbox; and how busy the whole machine was.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from harness import (
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    prepare,
    sandbox_cpu_seconds,
    sandbox_process,
    start_worker,
    stop_workers,
    wait_for_workers,
)

ACCEPT_CHUNK = 100


@dataclass
class Side:
    name: str
    messages: int
    seconds: float  # start → last acceptance
    acceptance_seconds: float  # first → last acceptance
    worker_cpu: float
    database_cpu: float
    sandbox_cpu: float
    busy: float  # share of the machine's CPU
    load: tuple[float, float]
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def acceptance_rate(self) -> float:
        return self.messages / self.acceptance_seconds

    def per_1000(self, cpu: float) -> float:
        return 1000 * cpu / self.messages


class BackendCpu:
    """CPU of this database's PostgreSQL backends while inside: sampled every 100 ms from a
    connection of its own (not counted), so backends that come and go (a job process's
    connection) are counted up to their last sample."""

    def __init__(self, database_url: str, exclude: set[int]) -> None:
        self._url, self._exclude = database_url.replace("postgres://", "postgresql://", 1), exclude

    def __enter__(self) -> "BackendCpu":
        import psycopg

        self._conn = psycopg.connect(self._url, autocommit=True)
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def _sample(self, initial: bool = False) -> None:
        pids = self._conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
        for (pid,) in pids:
            if pid in self._exclude:
                continue
            try:
                used = cpu_seconds(pid)
            except OSError:
                continue
            if initial:
                self._first[pid] = used
            self._last[pid] = used

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self._conn.close()
        self.seconds = sum(used - self._first.get(pid, 0.0) for pid, used in self._last.items())


def own_backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def checkpoint() -> None:
    """Both sides start with nothing left to flush from the side before."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def analyze_sent_mail() -> None:
    """ANALYZE the message table before it is emptied for a side (its rows are all sent by
    then): each side starts with the statistics of a table of sent mail, as a production
    table has when a burst arrives, instead of whatever autovacuum last saw."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE queueing_message")


def flush_redis() -> None:
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def accept(count: int) -> None:
    """`count` transactional messages, accepted 100 per call (as one API batch call)."""
    from queueing.services import messages_create_many

    for start in range(0, count, ACCEPT_CHUNK):
        messages_create_many(
            [
                {
                    "to": [f"person{i}@example.com"],
                    "subject": f"Your code is {i:06d}",
                    "html": f"<p>Hello, your code is <b>{i:06d}</b>.</p>",
                    "text": f"Hello, your code is {i:06d}.",
                }
                for i in range(start, min(start + ACCEPT_CHUNK, count))
            ]
        )


def sent_rows() -> int:
    from queueing.models import Message

    return Message.objects.filter(status="sent").count()


def first_claim() -> float:
    from django.db.models import Min

    from queueing.models import Message

    return Message.objects.aggregate(first=Min("first_attempt_at"))["first"].timestamp()


def wait_idle(workers: int, timeout: float = 10) -> None:
    """Until every worker is idle again (its last drain job has ended), so their CPU is all
    counted (a job process's CPU reaches its worker's when it is reaped)."""
    import django_rq
    from rq import Worker

    connection = django_rq.get_connection("bulk")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [w.get_state() for w in Worker.all(connection=connection)]
        if len(states) >= workers and all(s == "idle" for s in states):
            return
        time.sleep(0.1)


class Bench:
    def __init__(self, args: argparse.Namespace, control, database_url: str) -> None:
        self.args, self.control, self.database_url = args, control, database_url
        self.size = args.recipients if args.kind == "campaign" else args.messages

    # --- the two sides ---------------------------------------------------------------------

    def mailhub(self) -> Side:
        from queueing.enqueue import request_drain
        from queueing.models import Priority

        campaign = self._fresh()
        workers = [start_worker() for _ in range(self.args.workers)]
        try:
            wait_for_workers(len(workers))
            with self._measured() as measure:
                worker_cpu = sum(cpu_seconds(w.pid) for w in workers)
                if campaign is not None:
                    from campaigns.services import campaign_send

                    start = time.time()
                    campaign_send(campaign=campaign)
                else:
                    request_drain(Priority.TRANSACTIONAL)
                self._wait_sent(campaign)
                wait_idle(len(workers))
                worker_cpu = sum(cpu_seconds(w.pid) for w in workers) - worker_cpu
        finally:
            stop_workers(workers)
        stats = self.control.stats()
        claimed = first_claim()
        if campaign is None:
            start = claimed
        side = measure.side("mailhub", start, stats, worker_cpu)
        side.extra["first claim → last acceptance"] = self.size / (
            stats["last_accepted_at"] - claimed
        )
        self._check(side, stats, campaign)
        return side

    def floor(self) -> Side:
        from send_floor import campaign_spec, run_floor

        from queueing.models import Priority

        campaign = self._fresh(floor=True)
        specs = {campaign.pk: campaign_spec(campaign)} if campaign is not None else None
        with self._measured() as measure:
            result = run_floor(
                priority=Priority.BULK if campaign is not None else Priority.TRANSACTIONAL,
                database_url=self.database_url,
                api_url=self.control.url,
                api_key=os.environ["RESEND_API_KEY"],
                campaigns=specs,
                processes=self.args.workers,
            )
        stats = self.control.stats()
        side = measure.side("floor", result.first_claim, stats, result.cpu)
        side.extra["requests"] = result.requests
        self._check(side, stats, campaign)
        return side

    # --- set-up and checks -----------------------------------------------------------------

    def _fresh(self, *, floor: bool = False):
        """An empty message table and Redis; the campaign (frozen, its rows written by the
        floor's fan-out, for the floor) or the accepted transactional messages."""
        from campaign_seed import clear_messages, make_campaign

        analyze_sent_mail()
        clear_messages()
        flush_redis()
        campaign = None
        if self.args.kind == "campaign":
            campaign = make_campaign(self.audience)
            if floor:
                from fanout_floor import floor_fanout

                from campaigns.services import campaign_send

                campaign_send(campaign=campaign)  # freezes; its fan-out job is dropped below
                campaign.refresh_from_db()
                rows, _ = floor_fanout(campaign=campaign, lists=[self.audience])
                if rows != self.size:
                    raise SystemExit(f"the floor's fan-out wrote {rows:,} rows")
        else:
            accept(self.size)
        flush_redis()  # no drain waits: each side starts when the benchmark says
        checkpoint()
        self.control.reset()
        return campaign

    def _wait_sent(self, campaign) -> None:
        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline:
            if campaign is not None:
                campaign.refresh_from_db()
                if campaign.status == "sent":
                    return
            elif self.control.stats()["accepted_emails"] >= self.size:
                from queueing.models import PENDING_STATUSES, Message

                if not Message.objects.filter(status__in=PENDING_STATUSES).exists():
                    return
            time.sleep(0.2)
        raise SystemExit(f"not everything was sent within {self.args.timeout:.0f} s")

    def _check(self, side: Side, stats: dict, campaign) -> None:
        rows = sent_rows()
        counter = None
        if campaign is not None:
            campaign.refresh_from_db()
            counter = campaign.sent
        if (
            stats["accepted_emails"] != self.size
            or rows != self.size
            or counter
            not in (
                None,
                self.size,
            )
        ):
            raise SystemExit(
                f"{side.name}: not exactly once: sandbox accepted {stats['accepted_emails']:,}, "
                f"{rows:,} rows sent, counter {counter} for {self.size:,} messages"
            )

    def _measured(self) -> "Measure":
        return Measure(self)


class Measure:
    """CPU and load around one side's send."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def __enter__(self) -> "Measure":
        self.load_before = os.getloadavg()[0]
        self.backends = BackendCpu(self.bench.database_url, {own_backend_pid()}).__enter__()
        self.sandbox = sandbox_cpu_seconds()
        self.busy = machine_busy_seconds()
        return self

    def __exit__(self, *exc) -> None:
        busy, total = machine_busy_seconds()
        self.busy_share = (busy - self.busy[0]) / max(total - self.busy[1], 1e-9)
        self.sandbox = sandbox_cpu_seconds() - self.sandbox
        self.backends.__exit__(*exc)
        self.load_after = os.getloadavg()[0]

    def side(self, name: str, start: float, stats: dict, worker_cpu: float) -> Side:
        last, first = stats["last_accepted_at"], stats["first_accepted_at"]
        return Side(
            name=name,
            messages=self.bench.size,
            seconds=last - start,
            acceptance_seconds=last - first,
            worker_cpu=worker_cpu,
            database_cpu=self.backends.seconds,
            sandbox_cpu=self.sandbox,
            busy=self.busy_share,
            load=(self.load_before, self.load_after),
        )


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("campaign", "transactional"), default="campaign")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--quick", action="store_true", help="10,000 / 2,000 messages, 1 run")
    parser.add_argument("--tsv", action="store_true", help="rows for benchmarks/run.py")
    args = parser.parse_args()
    if args.quick:
        args.recipients, args.messages, args.runs = 10_000, 2_000, 1
    if not os.environ.get("BENCH_DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("send_vs_floor.py needs PostgreSQL: set BENCH_DATABASE_URL")
    port = free_port()
    env = prepare(sandbox_port=port)
    from campaign_seed import machine, seed_audience
    from django.core.management import call_command

    from sandbox import SandboxControl

    call_command("migrate", verbosity=0, interactive=False)
    out = sys.stderr if args.tsv else sys.stdout
    print(f"machine  {machine()}", file=out)
    print(f"uptime   {uptime()}", file=out)
    runs: list[dict[str, Side]] = []
    with sandbox_process(port) as url:
        control = SandboxControl(url)
        control.configure(rate_limit=0)
        bench = Bench(args, control, env["DATABASE_URL"])
        if args.kind == "campaign":
            bench.audience, seeded = seed_audience(args.recipients)
            print(f"audience {args.recipients:,} recipients (seeded in {seeded:.1f} s)", file=out)
        for run in range(args.runs):
            order = ("floor", "mailhub") if run % 2 == 0 else ("mailhub", "floor")
            sides = {}
            for name in order:
                sides[name] = getattr(bench, name)()
                print_side(run, sides[name], out)
            runs.append(sides)
            print(
                f"run {run + 1}: mailhub / floor {sides['mailhub'].rate / sides['floor'].rate:.2f}"
                f" (first → last acceptance "
                f"{sides['mailhub'].acceptance_rate / sides['floor'].acceptance_rate:.2f})",
                file=out,
                flush=True,
            )
    print(f"uptime   {uptime()}", file=out)
    summary(args, runs, out)


def print_side(run: int, side: Side, out) -> None:
    extra = "".join(
        f", {k} {v:,.0f}" + ("/s" if isinstance(v, float) else "") for k, v in side.extra.items()
    )
    print(
        f"run {run + 1} {side.name:7}: {side.rate:7,.0f} emails/s ({side.seconds:.1f} s), "
        f"first → last acceptance {side.acceptance_rate:7,.0f}/s{extra}; CPU per 1,000: "
        f"workers {side.per_1000(side.worker_cpu):.2f} s, database "
        f"{side.per_1000(side.database_cpu):.2f} s, sandbox {side.per_1000(side.sandbox_cpu):.2f}"
        f" s; machine busy {100 * side.busy:.0f} %; load {side.load[0]:.2f} → {side.load[1]:.2f}",
        file=out,
        flush=True,
    )


def summary(args: argparse.Namespace, runs: list[dict[str, Side]], out) -> None:
    def median(name: str, figure) -> float:
        return statistics.median(figure(r[name]) for r in runs)

    def each(name: str, figure, fmt: str) -> str:
        return " · ".join(format(figure(r[name]), fmt) for r in runs)

    start = "click" if args.kind == "campaign" else "first claim"
    size = args.recipients if args.kind == "campaign" else args.messages
    print(
        f"\n{args.kind}, {size:,} messages, {args.workers} workers each, medians of "
        f"{len(runs)} runs (each run)",
        file=out,
    )
    rows = [
        (f"mailhub emails/s ({start} → last acceptance)", "mailhub", lambda s: s.rate, ",.0f"),
        ("floor emails/s (first claim → last acceptance)", "floor", lambda s: s.rate, ",.0f"),
        ("mailhub emails/s, first → last acceptance", "mailhub", lambda s: s.acceptance_rate,
         ",.0f"),
        ("floor emails/s, first → last acceptance", "floor", lambda s: s.acceptance_rate, ",.0f"),
    ]  # fmt: skip
    for name in ("mailhub", "floor"):
        for label, attr in (("workers", "worker_cpu"), ("database", "database_cpu"),
                            ("sandbox", "sandbox_cpu")):  # fmt: skip
            figure = partial(lambda s, a: s.per_1000(getattr(s, a)), a=attr)
            rows.append((f"{name} CPU s per 1,000 emails, {label}", name, figure, ".2f"))
    for label, name, figure, fmt in rows:
        print(f"  {label:52} {median(name, figure):8{fmt}}  ({each(name, figure, fmt)})", file=out)
    ratios = [r["mailhub"].rate / r["floor"].rate for r in runs]
    acceptance = [r["mailhub"].acceptance_rate / r["floor"].acceptance_rate for r in runs]
    cpu = [
        (r["mailhub"].worker_cpu + r["mailhub"].database_cpu)
        / (r["floor"].worker_cpu + r["floor"].database_cpu)
        for r in runs
    ]
    fmt = " · ".join
    print(
        f"  {'mailhub / floor (target >= 0.75)':52} {statistics.median(ratios):8.2f}  "
        f"({fmt(f'{x:.2f}' for x in ratios)})",
        file=out,
    )
    print(
        f"  {'same, first → last acceptance on both sides':52} "
        f"{statistics.median(acceptance):8.2f}  ({fmt(f'{x:.2f}' for x in acceptance)})",
        file=out,
    )
    print(
        f"  {'CPU, mailhub / floor (workers + database)':52} {statistics.median(cpu):8.2f}  "
        f"({fmt(f'{x:.2f}' for x in cpu)})",
        file=out,
    )
    if args.tsv:
        name = f"send-{args.kind}"
        print(f"{name}\tmailhub emails/s ({start} → last acceptance)\t"
              f"{median('mailhub', lambda s: s.rate):,.0f}\t")  # fmt: skip
        print(f"{name}\tfloor emails/s\t{median('floor', lambda s: s.rate):,.0f}\t")
        print(f"{name}\tmailhub / floor\t{statistics.median(ratios):.2f}\t>= 0.75")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
