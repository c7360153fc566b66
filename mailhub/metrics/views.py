"""GET /metrics: Prometheus' text format, for a scraper with the token or staff (access)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from mailhub.metrics.access import refusal
from mailhub.metrics.counters import WorkerCounters
from mailhub.metrics.gauges import StatusGauges


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    refused = refusal(request)
    if refused is not None:
        return refused
    # A registry per scrape: nothing in the web process keeps figures of its own (every
    # worker's figures are in Redis, every gauge is read now).
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCounters())
    registry.register(StatusGauges())
    answer = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    answer["Cache-Control"] = "no-store"
    return answer
