"""Appends accepted emails to a JSON-lines file, so another process (the demo, the admin) can
see what the sandbox accepted without talking to it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from typing import IO

from sandbox.emails import StoredEmail

log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._path: str | None = None
        self._file: IO[str] | None = None
        self.set_path(path)

    def set_path(self, path: str | None) -> None:
        with self._lock:
            if path == self._path:
                return
            # Opened now, so a bad path fails when it is configured (and changes nothing),
            # not on the first send.
            new_file = open(path, "a", encoding="utf-8") if path is not None else None  # noqa: SIM115
            self._close()
            self._path, self._file = path, new_file

    def write(self, emails: Iterable[StoredEmail]) -> None:
        if self._file is None:
            return
        # One write per request keeps a batch's lines together; flush so readers see them now.
        text = "".join(json.dumps(e.as_record(), separators=(",", ":")) + "\n" for e in emails)
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(text)
                self._file.flush()
            except OSError:
                # The emails are already accepted; failing the request now would invite a
                # retry that stores them twice. The record file is a convenience: log and go on.
                log.warning("Could not append to the record file %s", self._path, exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._close()
            self._path = None

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
