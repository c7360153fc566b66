"""Signalling workers that a queue has work.

Jobs carry a queue name and nothing else; the work itself is found in the Message table. A
flag in Redis keeps the number of waiting drain jobs per queue at one, however many messages
arrive: a burst of 10,000 accepts enqueues one job, not 10,000. A drain clears the flag when it
starts, so work that arrives while it runs asks for a second drain (which another worker can
take). Failing to reach Redis is logged, never raised: the rows are committed and the
reconciler asks again once Redis answers.
"""

import contextlib
import logging
import os
import time
from collections.abc import Callable

import django_rq
import redis
from django.conf import settings
from django.db import transaction
from rq import Queue

from queueing.connection import get_redis
from queueing.models import Priority

log = logging.getLogger(__name__)

DRAIN_FUNC = "queueing.jobs.drain_queue"
JOB_TIMEOUT = 600  # a drain stops itself after about ten seconds; this only guards a hang
FLAG_TTL = 60  # a flag whose job was lost clears itself; the reconciler asks again


# One queue object per process and configuration: django_rq opens a new Redis connection
# for every queue it returns, and a drain asks for the transactional queue's length before
# every request (a connection set up per request cost more than the question).
_queues: dict[tuple[int, str, str], Queue] = {}


def queue_for(priority: str) -> Queue:
    return queue_named("bulk" if priority == Priority.BULK else "transactional")


def queue_named(name: str) -> Queue:
    key = (os.getpid(), name, repr(settings.RQ_QUEUES.get(name)))
    queue = _queues.get(key)
    if queue is None:
        queue = _queues[key] = django_rq.get_queue(name)
    return queue


def enqueue_once(
    flag: str, queue_name: str | Callable[[], str], func: str, *args: object, what: str
) -> bool:
    """Make sure one job `func(*args)` is waiting on `queue_name`, kept to one by the Redis
    `flag` (the job clears it when it starts: `job_started`); True if this call enqueued it.
    Redis being unreachable is logged, saying what waits (`what`), never raised."""
    return bool(_ask(flag, queue_name, func, *args, what=what))


def _ask(
    flag: str, queue_name: str | Callable[[], str], func: str, *args: object, what: str
) -> bool | None:
    """enqueue_once's answer, or None when Redis could not be asked (then nothing is known
    about the flag). `queue_name` may be a function, asked only once the flag was set (so a
    webhook that finds a job waiting costs no more questions)."""
    try:
        if not get_redis().set(flag, "1", nx=True, ex=FLAG_TTL):
            return False
        name = queue_name if isinstance(queue_name, str) else queue_name()
        queue_named(name).enqueue(
            func, *args, job_timeout=JOB_TIMEOUT, result_ttl=0, failure_ttl=86400
        )
        return True
    except redis.RedisError as exc:
        log.warning("Redis unreachable; %s for the reconciler: %s", what, exc)
        return None


def job_started(flag: str) -> None:
    """A job asked for through `enqueue_once` has started: work arriving now asks again."""
    with contextlib.suppress(redis.RedisError):
        get_redis().delete(flag)


def drain_flag(priority: str) -> str:
    return f"mailhub:drain:{priority}:waiting"


def request_drain(priority: str) -> bool:
    """Make sure one drain job for `priority` is waiting; True if this call enqueued it."""
    return enqueue_once(
        drain_flag(priority),
        queue_for(priority).name,
        DRAIN_FUNC,
        priority,
        what=f"{priority} messages stay queued",
    )


def drain_started(priority: str) -> None:
    job_started(drain_flag(priority))
    if priority == Priority.BULK:
        # Bulk had its turn: events go ahead of it again (request_event_processing).
        with contextlib.suppress(redis.RedisError):
            get_redis().delete(EVENTS_STREAK)


# While a drain takes another priority's mail into its requests (under a rate limit, a bulk
# drain takes transactional mail first, queueing.delivery), it holds that priority's flag:
# messages accepted meanwhile then enqueue no drain job of their own (a job, and a forked
# process, per message, while the running drain sends them in its next request anyway). The
# drain releases the flag when it ends and looks once more: whatever it left is asked for
# (`release_drain_flag`). The held flag lives HELD_TTL seconds and the drain refreshes it
# before every request: a drain that dies holding it (killed, or Redis failing at the
# release) blocks new jobs for at most that long, after which messages and the reconciler
# ask again. A flag that lapses while its drain still runs only lets a job in: harmless.
HELD = "held"
HELD_TTL = 5
# KEYS: the flag. Deletes it only if a drain holds it (not if a job was enqueued meanwhile).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def hold_drain_flag(priority: str) -> None:
    """Set (or refresh) the flag of `priority` for a drain that serves it; see above."""
    with contextlib.suppress(redis.RedisError):
        get_redis().set(drain_flag(priority), HELD, ex=HELD_TTL)


def release_drain_flag(priority: str, *, work_left: Callable[[], bool]) -> None:
    """Release a held flag, then ask for a drain if `work_left()`: a message accepted while
    the flag was held and not sent by the drain that held it is never left without a job."""
    try:
        get_redis().eval(_RELEASE, 1, drain_flag(priority), HELD)
    except redis.RedisError as exc:
        log.warning("Redis unreachable; %s drain flag left to expire: %s", priority, exc)
        return
    if work_left():
        request_drain(priority)


def request_drain_on_commit(priority: str) -> None:
    """Ask for a drain once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: request_drain(priority))


# --- provider events (webhooks): the same one-waiting-job rule, on the `events` queue ---

EVENTS_QUEUE = "events"
EVENTS_FUNC = "queueing.jobs.process_provider_events"
EVENTS_FLAG = "mailhub:events:waiting"


# Events jobs started in a row while a bulk drain waited; at this many, the next one queues
# behind that drain (a drain's start clears the count).
EVENTS_STREAK = "mailhub:events:ahead-of-bulk"
EVENTS_AHEAD_OF_BULK = 3


def request_event_processing() -> bool:
    """Make sure one job processing stored webhooks is waiting; True if this call enqueued it.
    A burst of webhooks enqueues one job; Redis being down is logged (the reconciler asks
    again for events left unprocessed).

    Fair to bulk sending: RQ serves `transactional events bulk` in that order, so under a
    steady trickle of webhooks (each asks again once the last job has started) an `events`
    job would always be waiting and a worker would never reach `bulk`: a campaign starves.
    Events keep their place ahead of bulk (a bounce is applied before the next campaign's
    mail goes), but once EVENTS_AHEAD_OF_BULK jobs in a row have started while a drain
    waited, the next joins the `bulk` queue behind that drain: the drain runs (about 10 s at
    most), then the events gathered meanwhile, in one job. None is lost (the flag keeps one
    job waiting; the reconciler asks again for any left unprocessed), and no scheduler is
    needed: a burst worker serves it too."""
    return enqueue_once(EVENTS_FLAG, _events_queue, EVENTS_FUNC, what="stored webhooks wait")


def _bulk_waits() -> bool:
    return bool(queue_for(Priority.BULK).count)


def _events_queue() -> str:
    """`events`, or `bulk` (behind the waiting drain) after a streak; see above."""
    streak = int(get_redis().get(EVENTS_STREAK) or 0)
    return "bulk" if streak >= EVENTS_AHEAD_OF_BULK and _bulk_waits() else EVENTS_QUEUE


def event_processing_started() -> float:
    """Clear the flag; the time.monotonic() just after, for `late_events_window_left`."""
    job_started(EVENTS_FLAG)
    cleared = time.monotonic()
    with contextlib.suppress(redis.RedisError):
        if _bulk_waits():
            pipe = get_redis().pipeline()
            pipe.incr(EVENTS_STREAK).expire(EVENTS_STREAK, FLAG_TTL).execute()
    return cleared


# The webhook door stores up to a thousand events a second per process, and asking Redis for
# each (a round trip, and redis-py's Python around it) was a quarter of its CPU. So a process
# that asked less than ASK_WINDOW_SECONDS ago does not ask again: a processing job that will
# see its event is then known to exist. Why: the ask that started at `a` found or set the
# flag, so the job that later clears it does so at s >= a; an event committed without asking
# was committed before a + window <= s + window; and that job, after clearing the flag,
# looks for unprocessed events once more no sooner than `window` after s
# (`late_events_window_left`, then queueing.provider_events.processing.look_again), so it
# sees the event and asks for another job if it did not take it. Only durations are
# compared, each on its own process's clock. If the flag's job is lost (a worker killed),
# the reconciler asks again for events left unprocessed, as it always did.
ASK_WINDOW_SECONDS = 0.05
_events_asked_at = float("-inf")  # when this process's last successful ask started


def request_event_processing_soon() -> None:
    """For the webhook door: request_event_processing, unless this process asked less than
    ASK_WINDOW_SECONDS ago (see above)."""
    global _events_asked_at
    started = time.monotonic()
    if started - _events_asked_at < ASK_WINDOW_SECONDS:
        return
    if _ask(EVENTS_FLAG, _events_queue, EVENTS_FUNC, what="stored webhooks wait") is not None:
        _events_asked_at = max(_events_asked_at, started)


def forget_recent_asks() -> None:
    """Redis was emptied (tests do it before each test): the next webhook asks again."""
    global _events_asked_at
    _events_asked_at = float("-inf")


def late_events_window_left(cleared: float) -> float:
    """Seconds a processing job that cleared its flag at `cleared` must still wait before its
    last look for events: ones stored meanwhile may not have asked for a job."""
    return cleared + ASK_WINDOW_SECONDS - time.monotonic()


def request_event_processing_on_commit() -> None:
    """Ask for processing once the surrounding transaction commits (at once outside one);
    a process that asked moments ago does not ask again (request_event_processing_soon)."""
    transaction.on_commit(request_event_processing_soon)
