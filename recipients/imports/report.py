"""The rejected rows of an import: counted, and kept as CSV (line, reason, the row as given),
in the file's line order.

Rows are rejected in three places, each in line order: while the file is parsed (a record over
several lines, the wrong number of fields, a bad address), when a batch of rows is checked for
repeats (a repeated address or external_id, a field over its length: .repeats), both in the
parsing thread, and while a chunk is written (an external_id another recipient has), in the
writing thread. Each goes to its own spool (memory, then disk past 1 MB); once the import has
finished, `text` merges the three by line. Memory stays the same however many rows are
rejected, until the report itself is handed out: to the command's report file, and into the
ImportRun for the admin's download.

Cells are written as given, but one a spreadsheet would run as a formula gets an apostrophe in
front (recipients.csv_cells.safe_cell), which the import takes off again: a fixed report
imports back meaning what the file meant. The first few rejections by line are also kept in
memory (`first`), for the command's output.
"""

import csv
import heapq
import tempfile
import threading
from collections.abc import Iterator
from types import TracebackType

from recipients.csv_cells import safe_cell
from recipients.imports.rows import Reject
from recipients.imports.summary import ImportCounts

SPOOL_BYTES = 1 << 20
FIRST_KEPT = 10  # rejections kept as (line, reason) for the caller to show


class Rejections:
    """Use as a context manager. `parsed`, `repeated` and `written` are the `reject` callbacks
    of the parser (and reader), of the repeats check and of the writer; each is called in line
    order, from one thread at a time."""

    def __init__(self, counts: ImportCounts) -> None:
        self.counts = counts
        self._lock = threading.Lock()  # the counts are shared by the two threads
        self._spools = [_spool() for _ in range(3)]
        self.parsed, self.repeated, self.written = (self._recorder(s) for s in self._spools)
        self._header: list[str] = []
        self.first: list[tuple[int, str]] = []  # the first FIRST_KEPT (line, reason), by line

    def start(self, header: list[str]) -> None:
        """The report's own header row: line, reason, then the file's header."""
        self._header = ["line", "reason", *map(safe_cell, header)]

    def _recorder(self, spool: tempfile.SpooledTemporaryFile) -> Reject:
        writer = csv.writer(spool)

        def record(line: int, raw: list[str], reason: str) -> None:
            with self._lock:
                self.counts.rejected += 1
            # The reason as given: the report escapes it (`text`), `first` keeps it as is.
            writer.writerow([line, reason, *map(safe_cell, raw)])

        return record

    def text(self) -> str:
        """The report as CSV text, in line order; empty when no row was rejected."""
        if not self.counts.rejected:
            return ""
        # Merged into a fourth spool, read back once: the text is then built at its final size
        # (a StringIO's buffer holds 4 bytes a character and grows by doubling: 24 MB for a
        # 3 MB report, where the import itself holds about 20).
        with _spool() as out:
            writer = csv.writer(out)
            writer.writerow(self._header)
            # The spools hold each reason as it was given; only the report escapes it.
            for line, reason, *raw in heapq.merge(*map(_rows, self._spools), key=_line):
                if len(self.first) < FIRST_KEPT:
                    self.first.append((int(line), reason))
                writer.writerow([line, safe_cell(reason), *raw])
            out.seek(0)
            return out.read()

    def __enter__(self) -> "Rejections":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for spool in self._spools:
            spool.close()


def _spool() -> tempfile.SpooledTemporaryFile:
    # Closed in Rejections.__exit__.
    return tempfile.SpooledTemporaryFile(
        max_size=SPOOL_BYTES, mode="w+", newline="", encoding="utf-8"
    )


def _rows(spool: tempfile.SpooledTemporaryFile) -> Iterator[list[str]]:
    spool.seek(0)
    return csv.reader(spool)


def _line(row: list[str]) -> int:
    return int(row[0])
