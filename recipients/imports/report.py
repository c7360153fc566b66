"""The rejected rows of an import: counted, and kept as CSV (line, reason, the row as given).

They are written to a spool (memory, then disk past 1 MB) and handed out once the import has
finished: to the command's report file, and into the ImportRun for the admin's download.
Rows are rejected both by the parsing thread and by the writing one, hence the lock.

Cells are written as given, but one a spreadsheet would run as a formula gets an apostrophe in
front (recipients.csv_cells.safe_cell), which the import takes off again: a fixed report
imports back meaning what the file meant. The first few rejections are also kept in memory
(`first`), for the command's output.
"""

import csv
import tempfile
import threading
from types import TracebackType

from recipients.csv_cells import safe_cell
from recipients.imports.summary import ImportCounts

SPOOL_BYTES = 1 << 20
FIRST_KEPT = 10  # rejections kept as (line, reason) for the caller to show


class Rejections:
    """Use as a context manager; `add` is the `reject` callback of parser and writers."""

    def __init__(self, counts: ImportCounts) -> None:
        self.counts = counts
        self._spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed in __exit__)
            max_size=SPOOL_BYTES, mode="w+", newline="", encoding="utf-8"
        )
        self._writer = csv.writer(self._spool)
        self._lock = threading.Lock()
        self.first: list[tuple[int, str]] = []  # the first FIRST_KEPT (line, reason)

    def start(self, header: list[str]) -> None:
        """The report's own header row: line, reason, then the file's header."""
        self._writer.writerow(["line", "reason", *map(safe_cell, header)])

    def add(self, line: int, raw: list[str], reason: str) -> None:
        with self._lock:
            self.counts.rejected += 1
            if len(self.first) < FIRST_KEPT:
                self.first.append((line, reason))
            self._writer.writerow([line, safe_cell(reason), *map(safe_cell, raw)])

    def text(self) -> str:
        """The report as CSV text; empty when no row was rejected."""
        if not self.counts.rejected:
            return ""
        self._spool.seek(0)
        return self._spool.read()

    def __enter__(self) -> "Rejections":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._spool.close()
