"""The shared limiter, exercised from several processes against real Redis."""

import itertools
import json
import os
import subprocess
import sys
import time

import pytest

from queueing import ratelimit
from tests.conftest import ROOT

# Each process reserves slots and prints the moment it would send (after waiting its turn).
CLIENT = """
import json, sys, time, django
django.setup()
from django.conf import settings
from queueing import ratelimit
settings.RESEND_RATE_LIMIT = float(sys.argv[2])
stamps = []
for _ in range(int(sys.argv[1])):
    r = ratelimit.acquire(max_wait=30)
    assert r.granted
    stamps.append(time.time())
print(json.dumps(stamps))
"""


def max_in_any_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def run_clients(processes: int, each: int, rate: float) -> list[float]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(each), str(rate)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    stamps: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        stamps += json.loads(out)
    return stamps


def test_several_processes_never_exceed_the_rate_in_any_second(settings):
    stamps = run_clients(4, 12, rate=20)
    assert len(stamps) == 48
    assert max_in_any_window(stamps) <= 20
    # And the budget is used, not wasted: 48 requests at 20/s take about 2.4 s.
    assert sorted(stamps)[-1] - sorted(stamps)[0] < 3.5


def test_requests_are_spread_evenly_not_burst(settings):
    settings.RESEND_RATE_LIMIT = 10
    stamps = []
    for _ in range(6):
        assert ratelimit.acquire(max_wait=5).granted
        stamps.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.1  # 1/rate apart (plus the margin), never a burst


def test_a_429_pause_holds_every_worker(settings):
    settings.RESEND_RATE_LIMIT = 0  # even with no configured limit, a 429 pauses everyone
    ratelimit.pause(1.5)
    started = time.time()
    stamps = run_clients(2, 1, rate=0)
    assert min(stamps) - started >= 1.2


def test_a_wait_longer_than_allowed_reserves_nothing(settings):
    settings.RESEND_RATE_LIMIT = 1
    assert ratelimit.acquire(max_wait=5).granted
    refused = ratelimit.reserve(max_wait=0.1)
    assert not refused.granted and refused.wait > 0.5
    # The refused caller left no hole: the next slot is still about one second after the first.
    granted = ratelimit.reserve(max_wait=5)
    assert granted.granted and 0.5 < granted.wait <= 1.1


def test_provider_announced_limit_lowers_the_rate(settings):
    settings.RESEND_RATE_LIMIT = 10
    ratelimit.observe_provider_limit(2)
    assert ratelimit.configured_rate() == 2
    ratelimit.observe_provider_limit(50)  # never raised above what is configured
    assert ratelimit.configured_rate() == 2


@pytest.mark.parametrize("rate", [0])
def test_no_limit_means_no_wait(settings, rate):
    settings.RESEND_RATE_LIMIT = rate
    assert all(ratelimit.reserve(max_wait=0).wait == 0 for _ in range(50))


def test_reserving_ahead_needs_a_limit_and_a_slot_some_way_off(settings):
    settings.RESEND_RATE_LIMIT = 0
    assert ratelimit.reserve_ahead(max_wait=5, min_wait=0.2) is None  # no limit: go at once
    settings.RESEND_RATE_LIMIT = 1
    # The timeline is free: the slot is nearer than preparing takes, so nothing is reserved
    # (the caller prepares first and takes the slot right before the call)...
    assert ratelimit.reserve_ahead(max_wait=5, min_wait=0.2) is None
    assert ratelimit.reserve(max_wait=5).wait < 0.1  # ...and the free slot is still free.
    # The next one is about a second off: reserved, with its moment on both clocks.
    ahead = ratelimit.reserve_ahead(max_wait=5, min_wait=0.2)
    assert ahead is not None and ahead.granted and 0.5 < ahead.wait <= 1.1
    assert ahead.due > time.monotonic() and ahead.slot_ms > 0
    # Further away than the caller waits: refused, and nothing reserved.
    refused = ratelimit.reserve_ahead(max_wait=0.5, min_wait=0.2)
    assert refused is not None and not refused.granted
    assert 1.0 < ratelimit.reserve(max_wait=5).wait <= 2.2


def test_a_slot_reserved_ahead_is_waited_for(settings):
    settings.RESEND_RATE_LIMIT = 2
    ratelimit.reserve(max_wait=5)
    ahead = ratelimit.reserve_ahead(max_wait=5, min_wait=0.1)
    assert ahead is not None and ahead.granted
    assert ratelimit.wait_for(ahead)
    assert time.monotonic() >= ahead.due  # never early


def test_a_slot_reserved_ahead_is_given_up_when_missed_or_paused_past(settings):
    settings.RESEND_RATE_LIMIT = 2
    ratelimit.reserve(max_wait=5)
    missed = ratelimit.reserve_ahead(max_wait=5, min_wait=0.1)
    time.sleep(missed.due - time.monotonic() + 0.05)  # woke 50 ms after the slot
    assert not ratelimit.wait_for(missed)  # sent late, it could crowd the next one's second
    ratelimit.reserve(max_wait=5)
    paused = ratelimit.reserve_ahead(max_wait=5, min_wait=0.1)
    ratelimit.pause(2.0)  # a 429 after the reservation: its retry-after covers the slot
    assert not ratelimit.wait_for(paused)
