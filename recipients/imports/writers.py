"""The one place an import's writer is chosen: PostgreSQL's set-based one, or SQLite's.

Both take the same arguments and have the same methods, so the service never asks which
database it runs on.
"""

from typing import Any, Protocol

from django.db import connection

from recipients.imports.postgres import PostgresWriter
from recipients.imports.rows import Reject, Row
from recipients.imports.sqlite import SqliteWriter
from recipients.imports.summary import ImportCounts
from recipients.models import List


class Writer(Protocol):
    chunk_size: int  # valid rows per chunk
    read_ahead: bool  # parse the next chunk in a second thread while this one is written

    def prepare(self, chunk: list[Row]) -> Any:
        """Pure Python work on a chunk; runs in the parsing thread when reading ahead."""

    def write(self, prepared: Any) -> None:
        """Write what `prepare` returned, adding to the counts; rejects rows through `reject`."""

    def finish(self) -> None:
        """After the last chunk was written (not called when the import fails)."""


def writer_for_database(target: List, counts: ImportCounts, reject: Reject) -> Writer:
    writer = PostgresWriter if connection.vendor == "postgresql" else SqliteWriter
    return writer(target, counts, reject)
