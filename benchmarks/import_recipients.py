"""Import benchmark: generate a CSV, import it, import it again; print rows per second.

    python benchmarks/import_recipients.py [--rows 100000] [--keep-db]

Runs against a fresh throw-away database (SQLite file under var/, or, when DATABASE_URL
points at PostgreSQL, Django's test database `test_<name>`) so no real data is touched. The
import runs as the command runs it: in this process, tuned for it (recipients.imports.tuning).
"""

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "first_name", "last_name", "external_id", "plan", "country"])
        for i in range(rows):
            writer.writerow(
                [f"User.{i}@Example.com", f"First{i}", f"Last{i}", f"ext-{i}", "pro", "NL"]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the test database")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("TEST_SQLITE_PATH", str(ROOT / "var" / "bench-import.sqlite3"))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import get_runner  # noqa: F401  (settings are configured)

    from recipients.imports.service import recipients_import
    from recipients.imports.tuning import short_switch_interval

    creation = connection.creation
    # serialize=False: nothing needs the initial data back, and serialising every table would
    # break on models whose migrations other work has not written yet.
    db_name = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "recipients.csv"
            generate(path, args.rows)
            size = path.stat().st_size
            print(
                f"{args.rows:,} rows ({size / 1e6:.1f} MB) · {connection.vendor} · "
                f"Python {platform.python_version()} · {os.cpu_count()} CPUs · {platform.machine()}"
            )
            for label in ("first import", "re-import"):
                # Tuned as the command and the worker's job tune their processes.
                with path.open("rb") as f, short_switch_interval():
                    started = time.perf_counter()
                    summary = recipients_import(file=f, list_slug="bench", filename=path.name)
                    elapsed = time.perf_counter() - started
                print(
                    f"{label:>13}: {elapsed:6.2f} s  {args.rows / elapsed:10,.0f} rows/s  {summary}"
                )
    finally:
        if not args.keep_db:
            creation.destroy_test_db(db_name, verbosity=0)


if __name__ == "__main__":
    main()
