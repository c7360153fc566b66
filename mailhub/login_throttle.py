"""Admin login throttling: failed logins are slowed, then refused for a while.

django-axes counts failures per client address and per username (in the database, so a Redis
flush forgives nothing) and locks either out after MAILHUB_LOGIN_FAILURE_LIMIT failures, for
MAILHUB_LOGIN_LOCKOUT_MINUTES. Before that, this middleware slows guessing: from the
MAILHUB_LOGIN_SLOW_AFTER-th failure on, a new attempt must wait twice as long as the last one
after the previous failure (1 s, 2 s, 4 s … capped at a minute). An attempt that comes too
early is refused without its password being checked, so it is not a guess at all, and no web
worker sleeps while it waits.
"""

from collections.abc import Callable
from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

MAX_DELAY_SECONDS = 60


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or the hop the TLS proxy added when there is one.

    Only the last X-Forwarded-For entry is the proxy's own; earlier ones are whatever the
    client sent, so trusting them would let a guesser pick a fresh address per attempt."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")


def delay_after(failures: int) -> float:
    """Seconds a new attempt must wait after the last failure, given the failures so far."""
    slow_after = settings.MAILHUB_LOGIN_SLOW_AFTER
    if failures < slow_after:
        return 0.0
    return float(min(2 ** (failures - slow_after), MAX_DELAY_SECONDS))


def seconds_to_wait(ip_address: str | None, username: str) -> float:
    """How long this client, or anyone trying this username, must still wait (0: go ahead)."""
    who = Q(ip_address=ip_address) if ip_address else Q(pk__in=[])
    if username:
        who |= Q(username=username)
    failures = AccessAttempt.objects.filter(who).aggregate(n=Max("failures_since_start"))["n"]
    wait = delay_after(failures or 0)
    if not wait:
        return 0.0
    last = AccessFailureLog.objects.filter(who).aggregate(t=Max("attempt_time"))["t"]
    if last is None:
        return 0.0
    left = (last + timedelta(seconds=wait) - timezone.now()).total_seconds()
    return max(left, 0.0)


class LoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The suffix first: reverse() on every POST (webhooks, the API) costs more than the
        # throttle check itself; the admin's login URL always ends in "/login/".
        if (
            request.method == "POST"
            and request.path.endswith("/login/")
            and request.path == reverse("admin:login")
        ):
            username = str(request.POST.get("username", ""))[:150]
            wait = seconds_to_wait(client_ip(request), username)
            if wait:
                return too_early(request, wait)
        return self.get_response(request)


def too_early(request: HttpRequest, wait: float) -> HttpResponse:
    seconds = int(wait) + 1
    response = render(
        request,
        "admin/login_throttled.html",
        {"seconds": seconds, "title": "Too many failed logins"},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
