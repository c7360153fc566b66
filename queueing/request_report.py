"""What one provider request tells the operator: one log line and its metrics.

One INFO line per request (single or batch) on the logger `queueing.requests`, with the
message id (or the batch and its size), the campaign(s), the attempt, what was recorded,
the provider's HTTP status and error name, and the call's duration; one DEBUG line per
message of a batch. The same fields go into the record's `mailhub` attribute, which the
JSON log format writes as fields (mailhub.log_format). Provider-neutral: the status and error
name are what the provider's package noted (queueing.metrics.tally.note_answer).
"""

import logging
from collections.abc import Sequence
from datetime import datetime

from queueing.metrics import catalogue, tally
from queueing.models import Message

log = logging.getLogger("queueing.requests")


def provider_request_done(
    kind: str,
    messages: Sequence[Message],
    *,
    attempt: int,
    outcome: str,
    seconds: float,
    batch_id: int | None = None,
) -> None:
    """Count and log a request whose outcome was recorded (`kind`: single or batch)."""
    tally.count(catalogue.PROVIDER_REQUESTS, kind=kind, outcome=outcome)
    tally.observe(catalogue.PROVIDER_REQUEST_SECONDS, seconds, kind=kind)
    answer = tally.current_answer()
    ids = {"batch": batch_id} if batch_id is not None else {"message": messages[0].pk}
    fields = {
        "kind": kind,
        **ids,
        "messages": len(messages),
        "campaign": ",".join(sorted({str(m.campaign_id) for m in messages if m.campaign_id})),
        "attempt": attempt,
        "outcome": outcome,
        "status": answer.status if answer else None,
        "error": answer.error if answer else "",
        "duration_ms": round(seconds * 1000, 1),
    }
    log.info(
        "provider request %s",
        " ".join(f"{k}={v}" for k, v in fields.items() if v not in ("", None)),
        extra={"mailhub": fields},
    )
    if batch_id is not None and log.isEnabledFor(logging.DEBUG):
        for position, message in enumerate(messages):
            log.debug(
                "batch %s item %d: message %s (%s)",
                batch_id,
                position,
                message.pk,
                outcome,
                extra={"mailhub": {"batch": batch_id, "message": message.pk, "item": position}},
            )


def observe_latency(messages: Sequence[Message], answered_at: datetime) -> None:
    """Accept (or the scheduled time) → the provider's acceptance, per message, counted when
    the transaction that records `sent` commits."""
    observations = []
    for m in messages:
        loaded = m.__dict__  # a deferred field is one missing here (Model.get_deferred_fields)
        if "created_at" not in loaded or "scheduled_at" not in loaded or "priority" not in loaded:
            continue  # not loaded: a query per message is not worth a histogram sample
        start = max(m.created_at, m.scheduled_at) if m.scheduled_at else m.created_at
        observations.append(((m.priority,), max((answered_at - start).total_seconds(), 0.0)))
    tally.observe_on_commit(catalogue.SEND_LATENCY, observations)
