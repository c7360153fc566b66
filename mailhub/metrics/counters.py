"""The workers' counters and histograms, read from Redis at scrape time (queueing.metrics).

A custom prometheus-client Collector: every scrape reads the hashes in one round trip and
turns them into families, adding up each histogram's buckets. A declared metric with no
figure yet still appears (label-less counters at 0), so alert rules never point at a name
that does not exist. Redis down → `mailhub_redis_up 0` and no counter values.
"""

import logging
from collections.abc import Iterator
from itertools import accumulate

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from queueing.connection import get_redis
from queueing.metrics import catalogue, store

log = logging.getLogger(__name__)


class WorkerCounters(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            series = store.read_all(get_redis().pipeline(transaction=False))
            up = 1
        except redis.RedisError as exc:
            log.warning("metrics scrape without the workers' counters (Redis: %s)", exc)
            series, up = {}, 0
        yield GaugeMetricFamily(
            "mailhub_redis_up", "1 when the scrape could read Redis (the counters' store).", up
        )
        for metric in catalogue.ALL:
            figures = series.get(metric.name, store.Series())
            if metric.kind == catalogue.COUNTER:
                yield _counter(metric, figures)
            else:
                yield _histogram(metric, figures)


def _counter(metric: catalogue.Metric, figures: store.Series) -> CounterMetricFamily:
    family = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
    if not metric.labels and not figures.counters:
        family.add_metric([], 0)
    for values, n in sorted(figures.counters.items()):
        family.add_metric(list(values), n)
    return family


def _histogram(metric: catalogue.Metric, figures: store.Series) -> HistogramMetricFamily:
    family = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
    bounds = [floatToGoString(b) for b in metric.buckets] + ["+Inf"]
    for values, counts in sorted(figures.buckets.items()):
        cumulative = list(accumulate(counts))
        family.add_metric(
            list(values),
            list(zip(bounds, cumulative, strict=True)),
            sum_value=figures.sums.get(values, 0.0),
        )
    return family
