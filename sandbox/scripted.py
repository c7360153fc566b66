"""Answers on demand: "answer the next N sends (from domain D, to recipient R) with Resend's
error X at status Y".

A test or the demo asks for any answer of Resend's error reference (`queueing.resend.errors
.ANSWERS`); a pair Resend does not give is refused, so the sandbox stays as strict as Resend.
Rules are checked in the order they were added; the first that matches a send or batch
answers it (a batch matches when any of its emails does: Resend refuses a batch as a whole),
and a rule with a count is spent after that many answers. Thread-safe.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from queueing.resend import errors, rules
from queueing.resend.errors import ResendError

_FIELDS = ("name", "status", "message", "count", "from_domain", "to")


@dataclass(slots=True)
class ScriptedAnswer:
    id: int
    name: str
    status: int
    message: str
    count: int | None  # None: until cleared
    from_domain: str | None
    to: str | None

    def error(self) -> ResendError:
        return ResendError(self.status, self.name, self.message)

    def matches(self, emails: list[Any]) -> bool:
        if self.from_domain is None and self.to is None:
            return True
        return any(self._matches_email(e) for e in emails if isinstance(e, dict))

    def _matches_email(self, email: dict[str, Any]) -> bool:
        if self.from_domain is not None and email_domain(email) != self.from_domain:
            return False
        return self.to is None or self.to in recipients(email)


def email_domain(email: Mapping[str, Any]) -> str | None:
    """The lower-case domain of an email's `from`, or None if it has no valid one."""
    sender = email.get("from")
    address = rules.address_of(sender) if isinstance(sender, str) else None
    return address.rpartition("@")[2].lower() if address else None


def recipients(email: Mapping[str, Any]) -> set[str]:
    found = set()
    for name in ("to", "cc", "bcc"):
        value = email.get(name)
        for item in [value] if isinstance(value, str) else value or []:
            address = rules.address_of(item) if isinstance(item, str) else None
            if address:
                found.add(address.lower())
    return found


def emails_of(op: str, body: bytes) -> list[Any]:
    """The emails of a send (one) or a batch (a list); [] for a body that is not JSON."""
    try:
        parsed = json.loads(body or b"null")
    except ValueError:
        return []
    if op == "batch":
        return parsed if isinstance(parsed, list) else []
    return [parsed]


class ScriptedAnswers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[ScriptedAnswer] = []
        self._ids = itertools.count(1)

    def add(self, spec: Mapping[str, Any]) -> ScriptedAnswer:
        """Add a rule from `spec` (name, and optionally status, message, count, from_domain,
        to); ValueError names what is wrong, and nothing is added."""
        unknown = sorted(set(spec) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)}; known: {', '.join(_FIELDS)}")
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("name must be one of Resend's error names")
        status = spec.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise ValueError(f"status must be an integer, got {status!r}")
        message = spec.get("message")
        if message is not None and (not isinstance(message, str) or not message):
            raise ValueError("message must be a non-empty string")
        error = errors.answer(name, status, message)  # ValueError for a pair Resend never gives
        count = spec.get("count")
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ValueError(f"count must be a positive integer or null, got {count!r}")
        rule = ScriptedAnswer(
            id=0,
            name=error.name,
            status=error.status,
            message=error.message,
            count=count,
            from_domain=_lower("from_domain", spec.get("from_domain")),
            to=_lower("to", spec.get("to")),
        )
        with self._lock:
            rule.id = next(self._ids)
            self._rules.append(rule)
        return rule

    def take(self, op: str, body: bytes) -> ResendError | None:
        """The answer for this send or batch, if a rule matches (spending one of its count)."""
        with self._lock:
            if not self._rules:
                return None  # the common case: no parsing
            emails = emails_of(op, body)
            for rule in self._rules:
                if rule.matches(emails):
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count == 0:
                            self._rules.remove(rule)
                    return rule.error()
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


def _lower(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string or null")
    return value.strip().lower()
