"""Where an import's progress goes: nowhere, a terminal's bar, or live figures in Redis.

The import reports bytes read (from the reading thread) and, after each chunk written, how
many lines of the file after the header are done (written or rejected). The management command shows a tqdm bar (`BarProgress`); the worker's job
keeps the figures in Redis (`StoredProgress`) for the admin's import page to read back with
`progress_read`. They are live figures that may be lost with Redis, like the other live rates:
the ImportRun row holds the outcome.
"""

import logging
from dataclasses import dataclass
from typing import IO

import redis
from tqdm import tqdm

from queueing.connection import get_redis

log = logging.getLogger(__name__)

PROGRESS_TTL = 3600  # seconds after the last figure; an import writes one per chunk


class Progress:
    """Progress nobody sees; the subclasses show it somewhere."""

    def start(self, total_bytes: int | None) -> None:
        """The import begins; `total_bytes` is the file's size, if known."""

    def read(self, nbytes: int) -> None:
        """`nbytes` more bytes of the file were read (called from the reading thread)."""

    def written(self, rows: int) -> None:
        """A chunk was written: the file's first `rows` lines after the header are done."""

    def close(self) -> None:
        """The import is over, whatever its outcome."""


class BarProgress(Progress):
    """A tqdm bar by bytes read, with the rows so far, on `stream` (the command's stderr)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bar: tqdm | None = None

    def start(self, total_bytes: int | None) -> None:
        self.bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="Importing",
            file=self.stream,
            mininterval=0.25,
        )

    def read(self, nbytes: int) -> None:
        if self.bar is not None:
            self.bar.update(nbytes)

    def written(self, rows: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{rows:,} rows", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass(frozen=True)
class LiveProgress:
    rows: int  # lines after the header done (written or rejected)


def _key(run_id: int) -> str:
    return f"mailhub:import:{run_id}:progress"


class StoredProgress(Progress):
    """The rows done, in Redis under the ImportRun's id, after every chunk written. Redis
    being unreachable is logged once and otherwise ignored: the import goes on."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.failed = False

    def start(self, total_bytes: int | None) -> None:
        self._store(0)

    def written(self, rows: int) -> None:
        self._store(rows)

    def _store(self, rows: int) -> None:
        if self.failed:
            return
        try:
            get_redis().set(_key(self.run_id), rows, ex=PROGRESS_TTL)
        except redis.RedisError as exc:
            self.failed = True
            log.warning("Import run #%s: progress not stored (Redis): %s", self.run_id, exc)


def progress_read(run_id: int) -> LiveProgress | None:
    """The live figures of a running import; None before its first, or without Redis."""
    try:
        stored = get_redis().get(_key(run_id))
    except redis.RedisError:
        return None
    return None if stored is None else LiveProgress(rows=int(stored))
