"""Counting in the workers: figures gathered in memory, written to Redis in one round trip.

A provider request opens a tally (`request_tally`), and so does each batch of webhook
processing; everything counted while it runs (the answer, the outcome, each message's
latency, events by type, and the live rates' writes through `defer`) is added up in memory
and written with one pipelined round trip when it is done, not one per message. Elsewhere
(the reconciler, a person's cancel) each count is written on its own. Figures about rows
are counted only once their transaction commits, so a rolled-back write is never counted.
Counting never raises: a Redis error loses the figure and is logged, because the mail
matters and the metric does not.
"""

import bisect
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import redis
from django.db import transaction
from redis.client import Pipeline

from queueing.connection import get_redis
from queueing.metrics import store
from queueing.metrics.catalogue import COUNTER, HISTOGRAM, PROVIDER_ANSWERS, Metric

log = logging.getLogger(__name__)

Labels = tuple[str, ...]


@dataclass
class Answer:
    """What the provider said to the current request, for its log line."""

    status: int
    error: str


class _Histogram:
    __slots__ = ("buckets", "total")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size  # per bucket, not cumulative; +Inf last
        self.total = 0.0


@dataclass
class Tally:
    counters: Counter = field(default_factory=Counter)  # (metric, values) → n
    histograms: dict[tuple[Metric, Labels], "_Histogram"] = field(default_factory=dict)
    deferred: list[Callable[[Pipeline], None]] = field(default_factory=list)
    answer: Answer | None = None

    def count(self, metric: Metric, values: Labels, n: int) -> None:
        self.counters[(metric, values)] += n

    def observe(self, metric: Metric, values: Labels, value: float) -> None:
        series = self.histograms.get((metric, values))
        if series is None:
            series = self.histograms[(metric, values)] = _Histogram(len(metric.buckets) + 1)
        series.buckets[bisect.bisect_left(metric.buckets, value)] += 1
        series.total += value

    def write(self, pipe: Pipeline) -> None:
        increments = store.Increments()
        for (metric, values), n in self.counters.items():
            if n:
                increments.counter(metric, values, n)
        for (metric, values), series in self.histograms.items():
            increments.histogram(metric, values, series.buckets, series.total)
        increments.write(pipe)
        for add in self.deferred:
            add(pipe)

    def __bool__(self) -> bool:
        return bool(self.counters or self.histograms or self.deferred)


_current: ContextVar[Tally | None] = ContextVar("mailhub_metrics_tally", default=None)


@contextmanager
def request_tally() -> Iterator[Tally]:
    """Gather what is counted inside (in this thread) and write it once, at the end."""
    tally = Tally()
    token = _current.set(tally)
    try:
        yield tally
    finally:
        _current.reset(token)
        flush(tally)


def flush(tally: Tally) -> None:
    if not tally:
        return
    try:
        pipe = get_redis().pipeline(transaction=False)
        tally.write(pipe)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("metrics not recorded (Redis: %s)", exc)


def defer(add: Callable[[Pipeline], None]) -> bool:
    """Let another Redis write ride on the current request's round trip; False (and nothing
    done) outside a request."""
    tally = _current.get()
    if tally is None:
        return False
    tally.deferred.append(add)
    return True


def count(metric: Metric, n: int = 1, **labels: object) -> None:
    """Add `n` to a counter now (for what is not a row's change: an answer, a pause)."""
    values = _values(metric, COUNTER, labels)
    _apply(lambda tally: tally.count(metric, values, n))


def count_on_commit(metric: Metric, counts: Counter) -> None:
    """Add to a counter once the current transaction commits; `counts` maps label-value
    tuples (in the metric's label order) to amounts."""
    wanted = {tuple(store.label_value(v) for v in k): n for k, n in counts.items() if n > 0}
    if wanted:
        _on_commit(lambda tally: [tally.count(metric, k, n) for k, n in wanted.items()])


def observe(metric: Metric, value: float, **labels: object) -> None:
    values = _values(metric, HISTOGRAM, labels)
    _apply(lambda tally: tally.observe(metric, values, value))


def observe_on_commit(metric: Metric, observations: list[tuple[Labels, float]]) -> None:
    if observations:
        _on_commit(lambda tally: [tally.observe(metric, v, x) for v, x in observations])


def note_answer(provider: str, status: int, error: str) -> None:
    """The provider's answer to the current request: counted, and kept for its log line."""
    count(PROVIDER_ANSWERS, provider=provider, status=status, error=error or "none")
    tally = _current.get()
    if tally is not None:
        tally.answer = Answer(status, error)


def current_answer() -> Answer | None:
    tally = _current.get()
    return tally.answer if tally is not None else None


def _values(metric: Metric, kind: str, labels: dict[str, object]) -> Labels:
    if metric.kind != kind or set(labels) != set(metric.labels):
        raise ValueError(f"{metric.name} is a {metric.kind} with labels {metric.labels}")
    return tuple(store.label_value(labels[name]) for name in metric.labels)


def _apply(add: Callable[[Tally], object]) -> None:
    tally = _current.get()
    if tally is not None:
        add(tally)
        return
    alone = Tally()
    add(alone)
    flush(alone)


def _on_commit(add: Callable[[Tally], object]) -> None:
    # Outside any transaction on_commit runs at once; a rolled-back savepoint drops it.
    transaction.on_commit(lambda: _apply(add))
