"""An email the sandbox accepted, and its two views: Resend's email object and the control record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from queueing.resend.rules import address_of


@dataclass(slots=True)
class StoredEmail:
    id: str
    created_at: str  # ISO 8601, UTC
    accepted_at: float  # epoch seconds, for ordering and throughput figures
    request: dict[str, Any]  # the parsed request item, as sent
    via: str  # "single" or "batch"
    batch_index: int | None
    idempotency_key: str | None
    raw_body_sha256: str  # of the whole request body (shared by a batch's emails)
    last_event: str  # "delivered", "scheduled" or "canceled"
    scheduled_at: str | None

    def as_resend(self) -> dict[str, Any]:
        """GET /emails/{id}: Resend's email object."""
        request = self.request

        def optional_list(name: str) -> list[str] | None:
            return addresses(request[name]) if request.get(name) is not None else None

        return {
            "object": "email",
            "id": self.id,
            "from": request.get("from"),
            "to": addresses(request.get("to")),
            "cc": optional_list("cc"),
            "bcc": optional_list("bcc"),
            "reply_to": optional_list("reply_to"),
            "subject": request.get("subject"),
            "html": request.get("html"),
            "text": request.get("text"),
            "created_at": self.created_at,
            "scheduled_at": self.scheduled_at,
            "last_event": self.last_event,
            "tags": request.get("tags"),
        }

    def as_record(self) -> dict[str, Any]:
        """GET /_sandbox/emails and the record file: everything the sandbox knows."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "accepted_at": self.accepted_at,
            "idempotency_key": self.idempotency_key,
            "via": self.via,
            "batch_index": self.batch_index,
            "last_event": self.last_event,
            "scheduled_at": self.scheduled_at,
            "raw_body_sha256": self.raw_body_sha256,
            "request": self.request,
        }

    def sent_to(self, address: str) -> bool:
        wanted = address.strip().lower()
        for recipient in addresses(self.request.get("to")):
            bare = address_of(recipient) or recipient
            if bare.lower() == wanted:
                return True
        return False

    def has_tag(self, name: str, value: str | None) -> bool:
        tags = self.request.get("tags")
        if not isinstance(tags, list):
            return False
        return any(
            isinstance(tag, dict)
            and tag.get("name") == name
            and (value is None or tag.get("value") == value)
            for tag in tags
        )


def addresses(value: Any) -> list[str]:
    """A stored to/cc/bcc/reply_to value as a list, as sent (validated on the way in, or not)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
