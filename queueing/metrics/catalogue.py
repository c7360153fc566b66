"""Every counter and histogram the workers keep in Redis: name, help, labels, buckets.

The one list both sides read: the workers' tallies (queueing.metrics.tally) refuse a name or
a label set not declared here, and the scrape (mailhub.metrics) exposes exactly these, so a
typo cannot create a metric nobody alerts on. Gauges computed at scrape time are declared
where they are computed (mailhub.metrics.gauges).
"""

from dataclasses import dataclass

COUNTER = "counter"
HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Metric:
    name: str  # without the _total suffix prometheus-client adds to counters
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()  # histograms: upper bounds, +Inf added

    @property
    def redis_key(self) -> str:
        return f"mailhub:metrics:{self.name}"


# Latency from accept to the provider's answer: seconds for a transactional email under no
# backlog, up to hours for a large campaign draining under a rate limit.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
REQUEST_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5)

MESSAGES = Metric(
    "mailhub_messages",
    COUNTER,
    "Messages that reached sent, failed, suppressed or cancelled (counted at commit).",
    ("status", "priority"),
)
PROVIDER_REQUESTS = Metric(
    "mailhub_provider_requests",
    COUNTER,
    "Provider requests by kind (single or batch) and what the worker recorded.",
    ("kind", "outcome"),
)
PROVIDER_ANSWERS = Metric(
    "mailhub_provider_answers",
    COUNTER,
    "Provider answers by HTTP status and error name (status 0: no answer, network error).",
    ("provider", "status", "error"),
)
RATELIMIT_NO_SLOT = Metric(
    "mailhub_ratelimit_no_slot",
    COUNTER,
    "Requests given back to the queue because the shared rate limiter had no slot in reach.",
)
RATELIMIT_PAUSES = Metric(
    "mailhub_ratelimit_pauses",
    COUNTER,
    "Pauses of the shared rate limiter after a provider 429.",
)
SENDING_PAUSES = Metric(
    "mailhub_sending_pauses",
    COUNTER,
    "Fleet-wide sending pauses caused by a provider answer (quota used up, key refused).",
    ("reason",),
)
WEBHOOK_EVENTS = Metric(
    "mailhub_webhook_events",
    COUNTER,
    "Provider webhook events processed, by event type.",
    ("type",),
)
WEBHOOK_EVENTS_FAILED = Metric(
    "mailhub_webhook_events_failed",
    COUNTER,
    "Provider webhook events whose processing raised (kept for a later try).",
)
SEND_LATENCY = Metric(
    "mailhub_send_latency_seconds",
    HISTOGRAM,
    "From accept (or the scheduled time) to the provider's acceptance, per message sent.",
    ("priority",),
    LATENCY_BUCKETS,
)
PROVIDER_REQUEST_SECONDS = Metric(
    "mailhub_provider_request_duration_seconds",
    HISTOGRAM,
    "Duration of one provider request, call only (no claim, no recording).",
    ("kind",),
    REQUEST_BUCKETS,
)
RATELIMIT_WAIT = Metric(
    "mailhub_ratelimit_wait_seconds",
    HISTOGRAM,
    "How long a request waited for its slot from the shared rate limiter.",
    (),
    WAIT_BUCKETS,
)

ALL: tuple[Metric, ...] = (
    MESSAGES,
    PROVIDER_REQUESTS,
    PROVIDER_ANSWERS,
    RATELIMIT_NO_SLOT,
    RATELIMIT_PAUSES,
    SENDING_PAUSES,
    WEBHOOK_EVENTS,
    WEBHOOK_EVENTS_FAILED,
    SEND_LATENCY,
    PROVIDER_REQUEST_SECONDS,
    RATELIMIT_WAIT,
)
