"""How fast a campaign's fan-out turns an audience into queued messages, against its floor.

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/bench_fanout \\
        python benchmarks/campaign_fanout.py [--sizes 100000,1000000] [--runs 3] [--chunk C]

For each size: that many recipients on two overlapping lists (a fifth on both), 1 %
suppressed (benchmarks/campaign_seed.py). Each run writes the campaign's messages twice,
alternately first: once by the floor (benchmarks/fanout_floor.py: one INSERT … SELECT into
the same table) and once by the fan-out job's code (campaigns.fanout.fanout_run) in this
process, and checks that each wrote exactly one message per person in the audience, and that
a second fan-out run adds none. Prints each run, the medians, mailhub / floor, µs per
recipient, CPU seconds (this process plus its PostgreSQL backend: on a shared machine wall
time grows with everyone else's load), the process's peak RSS during the fan-out (sampled)
and the load average.
Isolated database and Redis db 13 (or BENCH_REDIS_URL). On SQLite there is no floor.
"""

import argparse
import os
import statistics
import threading
import time

from harness import free_port, prepare


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """The highest RSS of this process while inside (sampled every 20 ms)."""

    def __enter__(self) -> "PeakRss":
        self.peak, self._stop = rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (this machine is shared: wall time grows
    with everyone else's load, CPU time much less)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="recipients, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=None, help="default: the setting")
    args = parser.parse_args()
    prepare(sandbox_port=free_port())
    import django_rq
    import redis
    from campaign_seed import clear_messages, machine, make_campaign, seed_overlapping_lists
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from fanout_floor import floor_fanout

    from campaigns import fanout
    from campaigns.models import Campaign
    from campaigns.services import campaign_send
    from queueing.models import Message

    call_command("migrate", verbosity=0, interactive=False)
    postgres = connection.vendor == "postgresql"
    chunk = args.chunk or settings.MAILHUB_CAMPAIGN_FANOUT_CHUNK
    print(f"machine     {machine()}")
    print(f"fan-out chunk {chunk:,} (first chunk {fanout.FIRST_CHUNK:,}, doubling)")

    def fresh_campaign(lists) -> Campaign:
        clear_messages()
        redis.Redis.from_url(settings.REDIS_URL).flushdb()
        campaign = make_campaign(lists)
        campaign_send(campaign=campaign)  # freezes and counts; the job it enqueues is not run
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")  # both sides start with nothing left to flush
        return campaign

    def both_cpu() -> float:
        """CPU of this process and of its database backend (PostgreSQL: its own process)."""
        if not postgres:
            return cpu_seconds(os.getpid())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        return cpu_seconds(os.getpid()) + cpu_seconds(backend)

    def run_floor(lists, audience: int) -> tuple[float, float]:
        campaign = fresh_campaign(lists)
        cpu = both_cpu()
        rows, seconds = floor_fanout(campaign=campaign, lists=lists)
        cpu = both_cpu() - cpu
        if rows != audience:
            raise SystemExit(f"the floor wrote {rows:,} rows for an audience of {audience:,}")
        return seconds, cpu

    def run_mailhub(lists, audience: int) -> tuple[float, float, float, float]:
        campaign = fresh_campaign(lists)
        before = rss_mb()
        cpu = both_cpu()
        with PeakRss() as peak:
            started = time.perf_counter()
            added = fanout.fanout_run(campaign_id=campaign.pk, chunk=chunk)
            seconds = time.perf_counter() - started
        cpu = both_cpu() - cpu
        rows = Message.objects.filter(campaign=campaign).count()
        campaign.refresh_from_db()
        if not (rows == added == audience == campaign.queued == campaign.audience_size):
            raise SystemExit(
                f"fan-out wrote {rows:,} rows, counted {added:,} / {campaign.queued:,} "
                f"for an audience of {audience:,}"
            )
        if fanout.fanout_run(campaign_id=campaign.pk) != 0:
            raise SystemExit("a second fan-out run added messages")
        if not len(django_rq.get_queue("bulk")):
            raise SystemExit("the fan-out asked for no drain")
        return seconds, cpu, before, peak.peak

    summary = []
    for size in [int(s) for s in args.sizes.split(",")]:
        lists, audience, seed_seconds = seed_overlapping_lists(size)
        print(
            f"\n{size:,} recipients on two lists, {audience:,} in the audience "
            f"(seeded in {seed_seconds:.1f} s)"
        )
        floors, mailhubs, peaks, floor_cpus, mailhub_cpus = [], [], [], [], []
        for run in range(args.runs):
            load_before = load()
            floor_first = run % 2 == 0
            for side in ("floor", "mailhub") if floor_first else ("mailhub", "floor"):
                if side == "floor" and postgres:
                    seconds, cpu = run_floor(lists, audience)
                    floors.append(seconds)
                    floor_cpus.append(cpu)
                elif side == "mailhub":
                    seconds, cpu, before, peak = run_mailhub(lists, audience)
                    mailhubs.append(seconds)
                    mailhub_cpus.append(cpu)
                    peaks.append(peak)
            ratio = (
                f", ratio {mailhubs[-1] / floors[-1]:.2f} (CPU {mailhub_cpus[-1] / floor_cpus[-1]:.2f})"
                if postgres
                else ""
            )
            floor = f"floor {floors[-1]:6.2f} s (CPU {floor_cpus[-1]:.2f} s), " if postgres else ""
            print(
                f"  run {run + 1}: {floor}mailhub {mailhubs[-1]:6.2f} s (CPU "
                f"{mailhub_cpus[-1]:.2f} s){ratio}; RSS {before:.0f} → peak {peak:.0f} MB; "
                f"load {load_before} → {load()}",
                flush=True,
            )
        mailhub = statistics.median(mailhubs)
        line = {
            "size": size,
            "audience": audience,
            "mailhub": mailhub,
            "per": mailhub / audience * 1e6,
            "peak": max(peaks),
            "cpu_per": statistics.median(mailhub_cpus) / audience * 1e6,
        }
        if postgres:
            line["floor"] = statistics.median(floors)
            line["ratio"] = statistics.median(m / f for m, f in zip(mailhubs, floors, strict=True))
            line["cpu_ratio"] = statistics.median(
                m / f for m, f in zip(mailhub_cpus, floor_cpus, strict=True)
            )
        summary.append(line)
        floor_text = (
            f"floor {line['floor']:.2f} s, ratio (median of runs) {line['ratio']:.2f}, "
            f"CPU ratio {line['cpu_ratio']:.2f}; "
            if postgres
            else ""
        )
        print(
            f"  median: {floor_text}mailhub {mailhub:.2f} s = {line['per']:.1f} µs per "
            f"recipient ({audience / mailhub:,.0f}/s), CPU {line['cpu_per']:.1f} µs per "
            f"recipient; peak RSS {line['peak']:.0f} MB"
        )
    if len(summary) > 1:
        first, last = summary[0], summary[-1]
        print(
            f"\nlinearity: µs per recipient at {last['size']:,} / at {first['size']:,} = "
            f"{last['per'] / first['per']:.2f} (wall), {last['cpu_per'] / first['cpu_per']:.2f} "
            f"(CPU); peak RSS {first['peak']:.0f} → "
            f"{last['peak']:.0f} MB"
        )


if __name__ == "__main__":
    main()
