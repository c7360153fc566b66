"""Rows that repeat an earlier line's address or external_id, found without holding the file's
addresses in memory.

A file may give an address (or an external_id) only once: the first line that gives it, and
passes every other check, claims it; a later line with the same address is rejected as a
"duplicate of line N", and one with the same external_id but another address as "also given
to" the address that claimed it. A row's own `problem` (a field over its length) is given only
when the row is not a duplicate, and such a row claims nothing.

What was claimed is kept in a scratch database of this import's own: a private SQLite file
(`sqlite3.connect("")`, deleted when closed) with one table, one row per claimed address
(its line and external_id). SQLite keeps at most its page cache (a few MB) of it in memory,
so memory stays flat however long the file; a dict of every address seen cost about 20 MB
per 100,000 rows. Rows are taken a batch at a time: one lookup of the batch's addresses and
one of its external ids (`json_each` over one parameter), the rule applied here in line order,
one prepared INSERT of the batch's claims. The rule is a loop, not a set-based statement,
because a claim depends on the claims before it: a row whose external_id is taken claims not
even its address, so a later line with that address is not a duplicate.

Why not a temporary table in the import's own database: it costs about as much CPU (0.8 s per
100,000 rows on PostgreSQL, docs/PERFORMANCE.md), but on PostgreSQL all of it on the writing
thread's path (1.0-1.3 s of its wall time), in round trips and server work per chunk; this
scratch file is written in-process, in C, by the parsing thread, which hands over the GIL
while SQLite works. The same code serves both databases, and
the scratch file is not part of the import's transaction, which it never needs to be: it only
ever holds this file's lines.
"""

import json
import sqlite3
from collections.abc import Iterable, Iterator
from types import TracebackType

from recipients.imports.rows import Reject, Row, chunks

BATCH = 5000  # rows looked up and recorded together
CACHE_KIB = 4096  # the scratch file's page cache: its most memory

SCHEMA = (
    "CREATE TABLE seen (email TEXT PRIMARY KEY, line INTEGER NOT NULL, external_id TEXT) "
    "WITHOUT ROWID",
    # Partial: a file without external ids costs nothing here.
    "CREATE INDEX seen_external_id ON seen (external_id) WHERE external_id IS NOT NULL",
)
LINES = "SELECT s.email, s.line FROM json_each(?) j JOIN seen s ON s.email = j.value"
OWNERS = "SELECT s.external_id, s.email FROM json_each(?) j JOIN seen s ON s.external_id = j.value"
RECORD = "INSERT INTO seen (email, line, external_id) VALUES (?, ?, ?)"


class Repeats:
    """Use as a context manager; `claimed` passes on the rows that claim their address."""

    def __init__(self, reject: Reject) -> None:
        self.reject = reject
        # Made here, used by the parsing thread (one thread at a time).
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        # Scratch data, deleted on close: no journal, no syncing.
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        for statement in SCHEMA:
            self._db.execute(statement)
        # One transaction, never committed: the file is thrown away, and pages are written to
        # it only when they no longer fit in the cache.
        self._db.execute("BEGIN")

    def claimed(self, rows: Iterable[Row]) -> Iterator[Row]:
        """`rows` (in line order) less those that repeat an earlier line or have a problem,
        which go to `reject` with their reason, in line order."""
        for batch in chunks(rows, BATCH):
            yield from self._claim(batch)

    def _claim(self, batch: list[Row]) -> list[Row]:
        db = self._db
        lines = dict(db.execute(LINES, (json.dumps([row.email for row in batch]),)))
        external_ids = [
            row.fields["external_id"]
            for row in batch
            if row.problem is None and "external_id" in row.fields
        ]
        owners = dict(db.execute(OWNERS, (json.dumps(external_ids),))) if external_ids else {}
        claimed = claim(batch, lines, owners, self.reject)
        db.executemany(RECORD, [(r.email, r.line, r.fields.get("external_id")) for r in claimed])
        return claimed

    def __enter__(self) -> "Repeats":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._db.close()


def claim(
    batch: list[Row], lines: dict[str, int], owners: dict[str, str], reject: Reject
) -> list[Row]:
    """The rows of `batch` (in line order) that claim their address; the others go to `reject`
    with their reason.

    `lines` (address → first line) and `owners` (external_id → address) hold what earlier
    batches claimed, at least for this batch's addresses and external ids; this batch's claims
    are added to them."""
    claimed: list[Row] = []
    for row in batch:
        first = lines.get(row.email)
        if first is not None:
            reject(row.line, row.raw, f"duplicate of line {first} ({row.email})")
            continue
        if row.problem is not None:
            reject(row.line, row.raw, row.problem)
            continue
        external_id = row.fields.get("external_id")
        if external_id:
            owner = owners.setdefault(external_id, row.email)
            if owner != row.email:
                reject(row.line, row.raw, f"external_id {external_id!r} is also given to {owner}")
                continue
        lines[row.email] = row.line
        claimed.append(row)
    return claimed
