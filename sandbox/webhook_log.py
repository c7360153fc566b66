"""What the sandbox posted as webhooks and what the receiver answered, for GET /_sandbox/webhooks.

One entry per delivery (a duplicate is a second entry with the same svix-id), in the order of
their first attempt, so a test sees the order the receiver saw.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any

LOG_LIMIT = 100_000

DELIVERING = "delivering"  # attempted, not answered 2xx yet, tries left
DELIVERED = "delivered"
FAILED = "failed"  # every try failed; the event is given up


class WebhookLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)

    def start(
        self,
        *,
        message_id: str,
        event_type: str,
        email_id: str,
        outcome: str,
        url: str,
        duplicate: bool,
        body: bytes,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "svix_id": message_id,
            "type": event_type,
            "email_id": email_id,
            "outcome": outcome,
            "url": url,
            "duplicate": duplicate,
            "state": DELIVERING,
            "attempts": [],
            "payload": json.loads(body),
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def attempt(
        self, entry: dict[str, Any], *, status: int | None, error: str | None, final: bool
    ) -> None:
        """Record one try: the answer's status, or the connection error."""
        with self._lock:
            entry["attempts"].append({"time": time.time(), "status": status, "error": error})
            if status is not None and 200 <= status < 300:
                entry["state"] = DELIVERED
            elif final:
                entry["state"] = FAILED

    def entries(
        self, *, email_id: str | None = None, event_type: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            found = [
                {**entry, "attempts": list(entry["attempts"])}
                for entry in self._entries
                if (email_id is None or entry["email_id"] == email_id)
                and (event_type is None or entry["type"] == event_type)
            ]
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
