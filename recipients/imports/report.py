"""The rejected rows of an import: counted, and kept as CSV (line, reason, the row as given),
in the file's line order.

Rows are rejected in two places: while the file is parsed (the wrong number of fields, a bad
address, a record over several lines), in line order, by the parsing thread; and while each
chunk is written (a repeated address or external_id, a field over its length, an external_id
another recipient has), by the writing thread, chunk after chunk. Each kind goes to its own
spool (memory, then disk past 1 MB), the second one a chunk at a time in line order
(`chunk_written`); once the import has finished, `text` merges the two by line. Memory
stays the size of a chunk's rejections however many rows are rejected. The report goes to the
command's report file, and into the ImportRun for the admin's download.

Cells are written as given, but one a spreadsheet would run as a formula gets an apostrophe in
front (recipients.csv_cells.safe_cell), which the import takes off again: a fixed report
imports back meaning what the file meant. The first few rejections by line are also kept in
memory (`first`), for the command's output.
"""

import csv
import heapq
import io
import tempfile
import threading
from collections.abc import Iterator
from types import TracebackType

from recipients.csv_cells import safe_cell
from recipients.imports.summary import ImportCounts

SPOOL_BYTES = 1 << 20
FIRST_KEPT = 10  # rejections kept as (line, reason) for the caller to show


class Rejections:
    """Use as a context manager; `add` is the parser's `reject` callback, `add_written` the
    writer's."""

    def __init__(self, counts: ImportCounts) -> None:
        self.counts = counts
        self._parsed = _spool()
        self._written = _spool()
        self._parsed_csv = csv.writer(self._parsed)
        self._written_csv = csv.writer(self._written)
        self._chunk: list[tuple[int, str, list[str]]] = []  # the chunk being written's
        self._lock = threading.Lock()  # counts are shared by the two threads
        self._header: list[str] = []
        self.first: list[tuple[int, str]] = []  # the first FIRST_KEPT (line, reason), by line

    def start(self, header: list[str]) -> None:
        """The report's own header row: line, reason, then the file's header."""
        self._header = ["line", "reason", *map(safe_cell, header)]

    def add(self, line: int, raw: list[str], reason: str) -> None:
        """A row rejected while parsing (called in line order)."""
        with self._lock:
            self.counts.rejected += 1
        self._parsed_csv.writerow([line, reason, *map(safe_cell, raw)])

    def add_written(self, line: int, raw: list[str], reason: str) -> None:
        """A row rejected while its chunk is written (in any order within the chunk)."""
        with self._lock:
            self.counts.rejected += 1
        self._chunk.append((line, reason, raw))

    def chunk_written(self) -> None:
        """The chunk's rejections are all in: spool them in line order."""
        self._chunk.sort(key=lambda rejected: rejected[0])
        for line, reason, raw in self._chunk:
            self._written_csv.writerow([line, reason, *map(safe_cell, raw)])
        self._chunk = []

    def text(self) -> str:
        """The report as CSV text, in line order; empty when no row was rejected."""
        self.chunk_written()
        if not self.counts.rejected:
            return ""
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        writer.writerow(self._header)
        # The spools hold each reason as it was given; only the report escapes it.
        for line, reason, *raw in heapq.merge(_rows(self._parsed), _rows(self._written), key=_line):
            if len(self.first) < FIRST_KEPT:
                self.first.append((int(line), reason))
            writer.writerow([line, safe_cell(reason), *raw])
        return out.getvalue()

    def __enter__(self) -> "Rejections":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._parsed.close()
        self._written.close()


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
