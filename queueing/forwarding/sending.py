"""Sending due deliveries: claim one, POST it signed, record the answer, back off.

A claim is a conditional UPDATE on the attempt count (the row's version): only one worker
wins an attempt, and the claim moves `next_attempt_at` past the attempt's longest possible
run, so a worker killed mid-attempt leaves a delivery that comes due again by itself. An
answer is recorded only under the same attempt count. A 2xx delivers; anything else (an
error status, a redirect, a timeout, no connection) waits the next of
`MAILHUB_WEBHOOK_RETRY_DELAYS` and tries again, until the next attempt would fall past
`MAILHUB_WEBHOOK_RETRY_WINDOW_SECONDS` after the event: then it fails. A URL the guard
refuses fails at once. Deliveries to a disabled endpoint, or of a revoked key, fail unsent.
"""

import logging
import time
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from queueing.forwarding import http
from queueing.forwarding.enqueue import request_forwarding
from queueing.forwarding.models import DeliveryStatus, WebhookDelivery
from queueing.forwarding.payload import body_bytes
from queueing.resend.webhook_signing import secret_key, signed_headers

log = logging.getLogger(__name__)

BUDGET_SECONDS = 10.0  # one job's run; more due work asks for another job
CHUNK = 20
CLAIM_MARGIN = timedelta(seconds=30)
USER_AGENT = "mailhub-webhooks/1"


def deliveries_send(*, budget: float = BUDGET_SECONDS) -> dict[str, int]:
    """Send due deliveries for up to `budget` seconds; counts by outcome."""
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        due = list(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
            )
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:CHUNK]
        )
        if not due:
            return dict(counts)
        for pk in due:
            counts[delivery_attempt(pk)] += 1
            if time.monotonic() >= deadline:
                break
    request_forwarding()  # out of time with work left: another job goes on
    return dict(counts)


def delivery_attempt(pk: int) -> str:
    """One attempt of one delivery: "delivered", "retrying", "failed" or "skipped" (not due,
    or another worker claimed it first)."""
    now = timezone.now()
    row = (
        WebhookDelivery.objects.select_related("endpoint__api_key")
        .filter(pk=pk, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .first()
    )
    if row is None:
        return "skipped"
    attempt = row.attempts + 1
    claim_until = now + timedelta(seconds=2 * settings.MAILHUB_WEBHOOK_TIMEOUT) + CLAIM_MARGIN
    mine = WebhookDelivery.objects.filter(
        pk=pk, status=DeliveryStatus.PENDING, attempts=row.attempts
    )
    if not mine.update(attempts=attempt, next_attempt_at=claim_until, last_attempt_at=now):
        return "skipped"
    endpoint = row.endpoint
    if not endpoint.active or endpoint.api_key.revoked_at is not None:
        why = "the endpoint is disabled" if not endpoint.active else "the API key is revoked"
        return _record(row, attempt, http.Answer(None, f"not sent: {why}", refused=True))
    body = body_bytes(row.payload)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signed_headers(secret_key(endpoint.secret), row.msg_id, int(time.time()), body),
    }
    answer = http.post(endpoint.url, body, headers, timeout=settings.MAILHUB_WEBHOOK_TIMEOUT)
    return _record(row, attempt, answer)


def _hold_endpoint(row: WebhookDelivery, until) -> None:
    """A failed endpoint is tried again once per backoff step, not once per waiting delivery:
    its other deliveries due before `until` wait with it (no attempt spent), so one dead
    receiver with many deliveries cannot keep the `events` workers busy timing out."""
    WebhookDelivery.objects.filter(
        endpoint_id=row.endpoint_id, status=DeliveryStatus.PENDING, next_attempt_at__lt=until
    ).exclude(pk=row.pk).update(next_attempt_at=until)


def next_attempt_delay(attempt: int) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (1-based); None: no more."""
    delays = settings.MAILHUB_WEBHOOK_RETRY_DELAYS
    if not delays:
        return None
    return float(delays[min(attempt, len(delays)) - 1])


def _record(row: WebhookDelivery, attempt: int, answer: http.Answer) -> str:
    now = timezone.now()
    mine = WebhookDelivery.objects.filter(
        pk=row.pk, status=DeliveryStatus.PENDING, attempts=attempt
    )
    fields: dict = {"last_status_code": answer.status, "last_error": answer.error}
    if answer.delivered:
        mine.update(
            status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None, **fields
        )
        return "delivered"
    delay = None if answer.refused else next_attempt_delay(attempt)
    window_ends = row.created_at + timedelta(seconds=settings.MAILHUB_WEBHOOK_RETRY_WINDOW_SECONDS)
    if delay is not None and now + timedelta(seconds=delay) <= window_ends:
        retry_at = now + timedelta(seconds=delay)
        mine.update(next_attempt_at=retry_at, **fields)
        _hold_endpoint(row, retry_at)
        return "retrying"
    if not answer.refused:
        fields["last_error"] = f"{answer.error} (gave up after {attempt} attempt(s))"
    if mine.update(status=DeliveryStatus.FAILED, next_attempt_at=None, **fields):
        log.warning(
            "Webhook delivery %s (%s) to endpoint %s failed: %s",
            row.msg_id,
            row.event_type,
            row.endpoint_id,
            fields["last_error"],
        )
    return "failed"
