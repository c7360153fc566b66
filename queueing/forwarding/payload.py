"""The body a forwarded event carries: Resend's own webhook shape, so code written against
Resend's webhooks reads it unchanged.

`data` is Resend's `data` as it arrived, with two changes a Resend client needs: `email_id`
is mailhub's id of the message (the `id` the HTTP API answered the send with, which is what
the client stored), and mailhub's own tags are taken out.
"""

import json
from collections.abc import Mapping
from typing import Any

from queueing.hooks import ProviderEvent
from queueing.validation import RESERVED_TAG_NAMES


def event_payload(event: ProviderEvent, email_id: str) -> dict[str, Any]:
    data = dict(event.data)
    data["email_id"] = email_id
    if "tags" in data:
        data["tags"] = _without_reserved(data["tags"])
    return {
        "type": event.type,
        "created_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


def _without_reserved(tags: Any) -> Any:
    # Resend sends tags as {"name": "value"}; a list of {"name", "value"} is taken too.
    if isinstance(tags, Mapping):
        return {k: v for k, v in tags.items() if k not in RESERVED_TAG_NAMES}
    if isinstance(tags, list):
        return [
            t for t in tags if not (isinstance(t, Mapping) and t.get("name") in RESERVED_TAG_NAMES)
        ]
    return tags


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): type, created_at, data, in that order."""
    ordered = {k: payload[k] for k in ("type", "created_at", "data") if k in payload}
    ordered.update({k: v for k, v in payload.items() if k not in ordered})
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
