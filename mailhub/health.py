"""Health answers for load balancers and orchestrators: `/healthz` and `/readyz`.

- `/healthz` (liveness): the process answers. No database or Redis call, so a dependency's
  outage never gets web processes restarted.
- `/readyz` (readiness): the database must answer, else 503 (this node cannot accept mail).
  Redis is reported but never fails it: the web app accepts mail as rows while Redis is away
  (the workers' reconciler signals them later), so a Redis blip must not pull every web node
  out of the load balancer at once.

Both are answered by a middleware placed first, before host validation, the HTTPS redirect,
sessions and the login throttle: a probe that calls a node by its IP address (no allowed Host)
over plain HTTP still gets an answer, and no probe ever counts as a login attempt. The answers
name each dependency with its state and latency, never an address, a user name or an error
text (those go to the log, once per change of state).
"""

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
# A Redis that accepts connections but never answers must not hold a probe (or a web thread).
REDIS_TIMEOUT_SECONDS = 0.5

UP, DOWN, NOT_CHECKED = "up", "down", "not_checked"

_redis_clients: dict[tuple[int, str], redis.Redis] = {}
_last_states: dict[str, str] = {}


def _redis() -> redis.Redis:
    """One client per process and URL, with short timeouts (not queueing's, which wait for
    real work); its pool keeps a probe from opening a connection each time."""
    key = (os.getpid(), settings.REDIS_URL)
    client = _redis_clients.get(key)
    if client is None:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            retry_on_timeout=False,
        )
        _redis_clients[key] = client
    return client


def _timed(name: str, probe: Callable[[], None]) -> dict[str, Any]:
    """Run one probe: its state and latency; a failure is named by its class only."""
    started = time.perf_counter()
    try:
        probe()
    except (DatabaseError, redis.RedisError, OSError) as exc:
        result = {"state": DOWN, "error": type(exc).__name__}
        _log_change(name, DOWN, f"{type(exc).__name__}: {exc}")
    else:
        result = {"state": UP}
        _log_change(name, UP, "")
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _log_change(name: str, state: str, detail: str) -> None:
    """Probes come every few seconds: log a dependency's state when it changes, not each time."""
    if _last_states.get(name, UP) != state:
        if state == DOWN:
            log.warning("readyz: %s is down (%s)", name, detail)
        else:
            log.info("readyz: %s is up again", name)
    _last_states[name] = state


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _redis_ping() -> None:
    _redis().ping()


def readiness() -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of /readyz: 503 only when the database does not answer."""
    checks = {
        "database": {**_timed("database", _database), "required": True},
        "redis": {**_timed("redis", _redis_ping), "required": False},
    }
    ready = checks["database"]["state"] == UP
    return (200 if ready else 503), {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
    }


def liveness() -> tuple[int, dict[str, Any]]:
    return 200, {
        "status": "alive",
        "checks": {
            "process": {"state": UP},
            "database": {"state": NOT_CHECKED},
            "redis": {"state": NOT_CHECKED},
        },
    }


ANSWERS: dict[str, Callable[[], tuple[int, dict[str, Any]]]] = {
    LIVENESS_PATH: liveness,
    READINESS_PATH: readiness,
}


def answer(request: HttpRequest, check: Callable[[], tuple[int, dict[str, Any]]]) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(
            {"status": "method_not_allowed", "message": "Use GET or HEAD."}, status=405
        )
        response["Allow"] = "GET, HEAD"
    else:
        status, body = check()
        response = JsonResponse(body, status=status)
        if request.method == "HEAD":
            response.content = b""
    response["Cache-Control"] = "no-store"
    return response


class HealthMiddleware:
    """Answers /healthz and /readyz before anything else runs (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        check = ANSWERS.get(request.path_info)
        if check is not None:
            return answer(request, check)
        return self.get_response(request)
