"""The import's repeats check alone: the scratch SQLite file (recipients.imports.repeats)
against the dicts it replaced, on the file of benchmarks/import_recipients.py.

    python benchmarks/import_repeats.py [--rows 100000] [--runs 3]

The file is parsed once (not measured); then, alternately in this one process, each way of
finding repeats takes the parsed rows and passes on the claimed ones. Printed: CPU seconds
(medians of the runs, taken in turn in one process, so a shared machine's load touches both
alike) and the most memory each held (tracemalloc's peak of Python's allocations, rejections
not kept; the scratch file's page cache is SQLite's own memory, which tracemalloc does not
see, so its limit is added). Both must reject the same rows with the same reasons.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from benchmarks.import_recipients import generate  # noqa: E402
from recipients.imports import repeats  # noqa: E402
from recipients.imports.reader import CsvReader  # noqa: E402
from recipients.imports.rows import Row, RowParser  # noqa: E402

Rejected = list[tuple[int, str]]


def parsed(path: Path) -> list[Row]:
    rows: list[Row] = []
    with path.open("rb") as f:
        reader = CsvReader(f, "utf-8-sig", on_bytes=lambda n: None)
        parser = RowParser(reject=lambda line, raw, reason: None)
        parser.read_header(reader.header())
        for line, raw in reader:
            if (row := parser.parse(line, raw)) is not None:
                rows.append(row)
    return rows


def with_scratch_file(rows: list[Row], rejected: Rejected) -> int:
    with repeats.Repeats(reject=lambda line, raw, reason: rejected.append((line, reason))) as r:
        return sum(1 for _ in r.claimed(rows))


def with_dicts(rows: list[Row], rejected: Rejected) -> int:
    """The check as it was: every claimed address and external_id in a dict."""
    lines: dict[str, int] = {}
    owners: dict[str, str] = {}
    claimed = repeats.claim(rows, lines, owners, lambda n, raw, why: rejected.append((n, why)))
    return len(claimed)


class Forget(list):
    """A `rejected` list that keeps nothing: memory is measured without the rejections."""

    def append(self, item: object) -> None:
        pass


def held(check: Callable[[list[Row], Rejected], int], rows: list[Row]) -> float:
    """The most memory (MB, Python's allocations) `check` held."""
    tracemalloc.start()
    check(rows, Forget())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recipients.csv"
        generate(path, args.rows)
        rows = parsed(path)
    checks = {"dicts": with_dicts, "scratch file": with_scratch_file}
    cpus: dict[str, list[float]] = {name: [] for name in checks}
    peaks: dict[str, float] = {}
    results = {}
    for name, check in checks.items():
        rejected: Rejected = []
        results[name] = (check(rows, rejected), rejected)
        peaks[name] = held(check, rows)
    for _ in range(args.runs):
        for name, check in checks.items():
            started = time.process_time()
            check(rows, Forget())
            cpus[name].append(time.process_time() - started)
    if results["dicts"] != results["scratch file"]:
        raise SystemExit("the two checks disagree")
    cache = repeats.CACHE_KIB / 1024
    print(
        f"{args.rows:,} rows, {len(rows):,} parsed, {results['dicts'][0]:,} claimed, "
        f"{len(results['dicts'][1]):,} rejected as repeats or too long; load "
        + " ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    for name in checks:
        extra = f" + at most {cache:.0f} MB of SQLite page cache" if name != "dicts" else ""
        print(
            f"  {name:>12}: CPU median {statistics.median(cpus[name]):.3f} s "
            f"({' · '.join(f'{c:.3f}' for c in cpus[name])}); memory held {peaks[name]:.1f} MB"
            + extra
        )


if __name__ == "__main__":
    main()
