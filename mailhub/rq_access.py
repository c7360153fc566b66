"""Who may use django-rq's pages (queues, jobs, workers; emptying a queue, deleting and
requeueing jobs): superusers, and staff holding django-rq's own permission "django_rq.admin"
(the manager role has it).

django-rq checks only that the user is staff, so every one of its views is wrapped here,
wherever it is mounted: under /admin/rq/ (mailhub/urls.py) and inside the admin
(/admin/django_rq/dashboard/…, mailhub/admin.py). Without the permission the answer is 403,
before django-rq's view runs, so nothing is changed.
"""

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import URLPattern, URLResolver

RQ_PERMISSION = "django_rq.admin"


def may_use_rq(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm(RQ_PERMISSION))


def rq_guard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff who are not signed in go to the admin login; signed-in staff without the
    permission get 403."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not may_use_rq(request.user):
            return HttpResponseForbidden("You may not use the job queue pages.")
        return view(request, *args, **kwargs)

    return staff_member_required(guarded)


def guard_patterns(patterns: Iterable[URLPattern | URLResolver]) -> list[URLPattern]:
    """The same URL patterns with every view wrapped by rq_guard."""
    guarded = []
    for pattern in patterns:
        if not isinstance(pattern, URLPattern):
            raise TypeError(f"Cannot guard nested URLs {pattern!r}; list its views here.")
        guarded.append(
            URLPattern(
                pattern.pattern, rq_guard(pattern.callback), pattern.default_args, pattern.name
            )
        )
    return guarded
