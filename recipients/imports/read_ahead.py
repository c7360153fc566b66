"""Reading ahead: the next chunk is parsed in a second thread while the database writes one.

On two cores the CSV parsing and the database's work then overlap (PostgreSQL, where the
database works in its own process). The parsing thread never touches the database; at most two
parsed chunks wait in memory. An error in it (bad encoding, not CSV) is raised in the writing
thread, so the import's transaction rolls back; an error in the writing thread stops it.

The writing thread needs the GIL back after every answer from the database, which the parsing
thread hands over only every switch interval: see recipients.imports.tuning, which shortens
it in the processes that exist for an import.
"""

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
WAITING = 2  # parsed chunks that may wait for the writer


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """`items`, produced in a second thread."""
    ready: queue.Queue = queue.Queue(maxsize=WAITING)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the writing thread, raised there
            put(exc)
            return
        put(done)

    thread = threading.Thread(target=produce, name="csv-import-parser", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
