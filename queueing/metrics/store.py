"""How the counters and histograms sit in Redis: one hash per metric, one field per series.

A counter's field is its label values joined by `|` (`sent|transactional`), raised with
HINCRBY (all of a request's increments in one Lua call, `Increments`). A histogram keeps, per label set, one field per bucket that is *not* cumulative
(`transactional|3` counts the values that fell in bucket 3 alone; the last index is +Inf)
and `…|sum` raised with HINCRBYFLOAT; the scrape adds the buckets up. Every job process adds
to the same hashes, so figures survive the process that made them, and a scrape reads them
with one HGETALL per metric in one round trip.

If Redis is flushed the hashes are gone and every counter starts again from zero: Prometheus
treats a counter that went down as a reset (rate() and increase() stay right).
"""

from dataclasses import dataclass, field

from redis.client import Pipeline

from queueing.metrics.catalogue import ALL, COUNTER, Metric

SEP = "|"


def series_field(values: tuple[str, ...]) -> str:
    return SEP.join(values)


def label_value(value: object) -> str:
    # A separator inside a value would shift every label after it.
    return str(value).replace(SEP, "/")[:120]


@dataclass
class Series:
    """One metric's figures as read back: counters by label values; histograms with their
    per-bucket counts (not cumulative, +Inf last) and sum."""

    counters: dict[tuple[str, ...], float] = field(default_factory=dict)
    buckets: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    sums: dict[tuple[str, ...], float] = field(default_factory=dict)


# Every increment of one request in one command: the per-command cost of the client (packing,
# parsing the reply) was most of what a dozen HINCRBYs cost. ARGV: field, amount, key index
# (into KEYS), repeated; an amount with a dot is a float (HINCRBYFLOAT).
_INCREMENTS = """
for i = 1, #ARGV, 3 do
  local key = KEYS[tonumber(ARGV[i + 2])]
  if string.find(ARGV[i + 1], '.', 1, true) then
    redis.call('HINCRBYFLOAT', key, ARGV[i], ARGV[i + 1])
  else
    redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1])
  end
end
return 0
"""


class Increments:
    """Increments gathered for one write: (hash key, field) → amount."""

    def __init__(self) -> None:
        self.amounts: dict[tuple[str, str], int | float] = {}

    def counter(self, metric: Metric, values: tuple[str, ...], n: int) -> None:
        self._add(metric.redis_key, series_field(values) if values else "", n)

    def histogram(
        self, metric: Metric, values: tuple[str, ...], buckets: list[int], total: float
    ) -> None:
        prefix = series_field(values) + SEP
        for index, n in enumerate(buckets):
            if n:
                self._add(metric.redis_key, f"{prefix}{index}", n)
        self._add(metric.redis_key, f"{prefix}sum", float(total))

    def _add(self, key: str, name: str, amount: int | float) -> None:
        self.amounts[(key, name)] = self.amounts.get((key, name), 0) + amount

    def write(self, pipe: Pipeline) -> None:
        if not self.amounts:
            return
        keys: dict[str, int] = {}
        args: list[str] = []
        for (key, name), amount in self.amounts.items():
            index = keys.setdefault(key, len(keys) + 1)
            text = repr(float(amount)) if isinstance(amount, float) else str(amount)
            args += (name, text, str(index))
        pipe.eval(_INCREMENTS, len(keys), *keys, *args)


def read_all(pipe: Pipeline) -> dict[str, Series]:
    """Every declared metric's series, by metric name (one round trip)."""
    for metric in ALL:
        pipe.hgetall(metric.redis_key)
    return {
        metric.name: _parse(metric, raw) for metric, raw in zip(ALL, pipe.execute(), strict=True)
    }


def _parse(metric: Metric, raw: dict[bytes, bytes]) -> Series:
    series = Series()
    width = len(metric.labels)
    for key, value in raw.items():
        parts = key.decode().split(SEP)
        if metric.kind == COUNTER:
            values = tuple(parts) if width else ()
            if len(values) == width:
                series.counters[values] = float(value)
            continue
        values, slot = tuple(parts[:-1]) if width else (), parts[-1]
        if len(values) != width:
            continue  # written under another label set (an older version): not ours
        if slot == "sum":
            series.sums[values] = float(value)
        elif slot.isdigit() and int(slot) <= len(metric.buckets):
            counts = series.buckets.setdefault(values, [0] * (len(metric.buckets) + 1))
            counts[int(slot)] += int(value)
    return series
