"""Everything the sandbox remembers, behind one lock.

The lock is coarse (one for emails, idempotency keys, the rate window, the log and the stats)
but every critical section is a few dictionary operations: parsing, validation, sleeping and
socket I/O all happen outside it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from queueing.resend import errors
from sandbox.emails import StoredEmail
from sandbox.idempotency_cache import Claim, IdempotencyCache, StoredAnswer
from sandbox.refusal import Refused
from sandbox.sliding_window import RateDecision, SlidingWindow
from sandbox.stats import Stats

# The request log keeps the most recent entries only; the stats count every request.
REQUEST_LOG_LIMIT = 100_000


class SandboxState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._emails: dict[str, StoredEmail] = {}
        self.idempotency = IdempotencyCache()
        self._window = SlidingWindow()
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._stats = Stats()

    # --- request life cycle (called by the API handler) ---

    def arrive(self) -> float:
        """Count a request as received; returns its arrival time (epoch seconds)."""
        with self._lock:
            self._stats.arrived(time.monotonic())
        return time.time()

    def admit(self, rate: float) -> RateDecision:
        with self._lock:
            return self._window.admit(time.monotonic(), rate)

    def peek_rate(self, rate: float) -> RateDecision:
        with self._lock:
            return self._window.peek(time.monotonic(), rate)

    def claim_key(self, key: str, fingerprint: str) -> Claim:
        with self._lock:
            return self.idempotency.claim(key, fingerprint, time.monotonic())

    def complete_key(self, key: str, answer: StoredAnswer) -> None:
        with self._lock:
            self.idempotency.complete(key, answer)

    def release_key(self, key: str) -> None:
        with self._lock:
            self.idempotency.release(key)

    def accept(self, emails: list[StoredEmail], daily_quota: int | None) -> None:
        """Store `emails` all or none; raises Refused (429) if they would pass the quota."""
        with self._lock:
            if (
                daily_quota is not None
                and emails
                and self._stats.accepted_emails + len(emails) > daily_quota
            ):
                raise Refused(errors.daily_quota_exceeded())
            for email in emails:
                self._emails[email.id] = email
            if emails:
                self._stats.accepted(len(emails), emails[0].accepted_at)

    def log(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._log.append(entry)
            self._stats.answered(entry["status"], entry["outcome"], entry["slow"])

    # --- email operations ---

    def get(self, email_id: str) -> StoredEmail | None:
        with self._lock:
            return self._emails.get(email_id)

    def reschedule(self, email_id: str, scheduled_at: str) -> StoredEmail:
        with self._lock:
            email = self._scheduled(email_id, "rescheduled")
            email.scheduled_at = scheduled_at
            return email

    def cancel(self, email_id: str) -> StoredEmail:
        with self._lock:
            email = self._scheduled(email_id, "canceled")
            email.last_event = "canceled"
            return email

    def _scheduled(self, email_id: str, verb: str) -> StoredEmail:
        email = self._emails.get(email_id)
        if email is None:
            raise Refused(errors.not_found("Email not found."))
        if email.last_event != "scheduled":
            raise Refused(
                errors.validation_error(
                    f"Only scheduled emails can be {verb}; this email's status is `{email.last_event}`."
                )
            )
        return email

    # --- what the control endpoints and tests read ---

    def emails(self, *, to: str | None = None, tag: str | None = None) -> list[dict[str, Any]]:
        """Accepted emails in acceptance order; `tag` is "name" or "name:value"."""
        with self._lock:
            found: Iterable[StoredEmail] = list(self._emails.values())
        if to:
            found = [e for e in found if e.sent_to(to)]
        if tag:
            name, _, value = tag.partition(":")
            found = [e for e in found if e.has_tag(name, value if _ else None)]
        return [e.as_record() for e in found]

    def email_count(self) -> int:
        with self._lock:
            return len(self._emails)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return self._stats.to_dict()

    def reset(self) -> None:
        with self._lock:
            self._emails.clear()
            self.idempotency.clear()
            self._window.clear()
            self._log.clear()
            self._stats = Stats()
