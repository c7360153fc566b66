"""Import benchmark: a first import and a re-import of the same CSV file, on PostgreSQL and
on SQLite; prints rows per second and peak memory.

    python benchmarks/import_recipients.py [--rows 100000] [--runs 3] \\
        [--postgres postgres://root@127.0.0.1:5432/bench_import] [--only sqlite|postgresql]

The file (generated once per run of the benchmark): `--rows` data rows, of which 10 % repeat
an earlier row's address (in other letter cases: rejected as duplicates) and 1 % are bad (a
malformed address, a wrong number of fields, a first name over its limit), in turn; the rest
are new people with a first and last name, an external id and two attribute columns. Each
database runs in its own process against a throw-away database (Django's test database:
`test_<name>` on PostgreSQL, a file under var/ for SQLite), so no real data is touched. Each
run empties the tables, imports the file (every row new), then imports it again (every row
unchanged). The import runs as the command runs it (recipients.imports.tuning). Peak RSS is
sampled in the importing process during the import, against its RSS just before. CPU seconds
are this process's plus, on PostgreSQL, its backend's: on a shared machine wall time grows
with everyone else's load, CPU time much less.
"""

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DUPLICATE_EVERY = 10  # one row in ten repeats an earlier address
BAD_EVERY = 100  # one row in a hundred is bad


def generate(path: Path, rows: int) -> tuple[int, int]:
    """Write the file; returns (duplicate rows, bad rows)."""
    duplicates = bad = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "first_name", "last_name", "external_id", "plan", "country"])
        for i in range(rows):
            if i % BAD_EVERY == BAD_EVERY // 2:
                bad += 1
                kind = (i // BAD_EVERY) % 3
                if kind == 0:
                    writer.writerow([f"user.{i}.example.com", "No", "At", f"ext-{i}", "pro", "NL"])
                elif kind == 1:
                    writer.writerow([f"User.{i}@Example.com", f"First{i}", "", "pro"])
                else:
                    writer.writerow([f"User.{i}@Example.com", "x" * 151, "L", f"ext-{i}", "", ""])
            elif i % DUPLICATE_EVERY == DUPLICATE_EVERY // 2:
                duplicates += 1
                j = i - DUPLICATE_EVERY // 2  # an earlier row, not itself bad
                if j % BAD_EVERY == BAD_EVERY // 2:
                    j -= 1
                writer.writerow(
                    [f"USER.{j}@example.COM", f"First{j}", f"Last{j}", f"ext-{j}", "pro", "NL"]
                )
            else:
                writer.writerow(
                    [f"User.{i}@Example.com", f"First{i}", f"Last{i}", f"ext-{i}", "pro", "NL"]
                )
    return duplicates, bad


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


def run_database(path: Path, rows: int, runs: int, bad: int, duplicates: int) -> None:
    """In this process: the runs against this process's DATABASE_URL."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("TEST_SQLITE_PATH", str(ROOT / "var" / "bench-import.sqlite3"))
    import django

    django.setup()
    from django.db import connection

    from recipients.imports.service import recipients_import
    from recipients.imports.tuning import short_switch_interval

    creation = connection.creation
    # serialize=False: nothing needs the initial data back.
    db_name = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    vendor = connection.vendor
    tables = [
        "recipients_subscriptionevent",
        "recipients_importrun",
        "recipients_subscription",
        "recipients_recipient",
        "recipients_list",
    ]
    results: dict[str, list[float]] = {"first import": [], "re-import": []}
    cpus: dict[str, list[float]] = {"first import": [], "re-import": []}

    def both_cpu() -> float:
        """CPU of this process and of its database backend (PostgreSQL: its own process)."""
        if vendor != "postgresql":
            return cpu_seconds(os.getpid())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        return cpu_seconds(os.getpid()) + cpu_seconds(backend)

    peaks: list[float] = []
    valid = rows - bad - duplicates
    try:
        for run in range(runs):
            with connection.cursor() as cursor:
                if vendor == "postgresql":
                    cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
                else:
                    for table in tables:
                        cursor.execute(f"DELETE FROM {table}")
            for label in results:
                load_before = load()
                # Tuned as the command and the worker's job tune their processes.
                with path.open("rb") as f, short_switch_interval(), PeakRss() as peak:
                    before = peak.peak
                    cpu = both_cpu()
                    started = time.perf_counter()
                    summary = recipients_import(file=f, list_slug="bench", filename=path.name)
                    elapsed = time.perf_counter() - started
                    cpu = both_cpu() - cpu
                expected = (valid, 0, 0) if label == "first import" else (0, 0, valid)
                got = (summary.created, summary.updated, summary.unchanged)
                if got != expected or summary.rejected != bad + duplicates or summary.rows != rows:
                    raise SystemExit(f"{vendor} {label}: unexpected counts: {summary}")
                results[label].append(elapsed)
                cpus[label].append(cpu)
                peaks.append(peak.peak - before)
                print(
                    f"  {vendor} run {run + 1} {label:>12}: {elapsed:6.2f} s "
                    f"{rows / elapsed:8,.0f} rows/s (CPU {cpu:.2f} s: {rows / cpu:,.0f} rows per "
                    f"CPU s); RSS {before:.0f} MB + {peak.peak - before:.0f}"
                    f" MB peak; load {load_before} → {load()}",
                    flush=True,
                )
        for label, times in results.items():
            median = statistics.median(times)
            cpu = statistics.median(cpus[label])
            print(
                f"{vendor} {label:>12}: median {median:.2f} s = {rows / median:,.0f} rows/s "
                f"({' · '.join(f'{t:.2f}' for t in times)} s); CPU median {cpu:.2f} s = "
                f"{rows / cpu:,.0f} rows per CPU s",
                flush=True,
            )
        print(f"{vendor} peak RSS growth during an import: {max(peaks):.0f} MB", flush=True)
    finally:
        creation.destroy_test_db(db_name, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/bench_import"),
        help="the PostgreSQL server and database name (its test_ database is used)",
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--file", help=argparse.SUPPRESS)  # set for the per-database process
    parser.add_argument("--counts", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.file:
        duplicates, bad = (int(n) for n in args.counts.split(","))
        run_database(Path(args.file), args.rows, args.runs, bad, duplicates)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recipients.csv"
        duplicates, bad = generate(path, args.rows)
        print(
            f"{args.rows:,} rows ({path.stat().st_size / 1e6:.1f} MB): {duplicates:,} duplicates, "
            f"{bad:,} bad · Python {platform.python_version()} · {os.cpu_count()} CPUs · "
            f"load {load()}",
            flush=True,
        )
        databases = {"sqlite": "", "postgresql": args.postgres}
        for name, url in databases.items():
            if args.only and name != args.only:
                continue
            env = {**os.environ, "DATABASE_URL": url}
            command = [sys.executable, __file__, "--rows", str(args.rows), "--runs", str(args.runs)]
            command += ["--file", str(path), "--counts", f"{duplicates},{bad}"]
            subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
