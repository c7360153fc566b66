"""`POST /webhooks/resend` served beside Django's stack, not through it (WSGI level).

Resend may post a thousand events a second; most of a webhook's cost through Django was the
stack around the view: the middleware (sessions, auth, CSRF, messages, axes, WhiteNoise, the
API's), URL resolution, the request signals and the connection health check's `SELECT 1`.
None of it serves this path: no cookie, session or user is read, no page is rendered, no
static file is served. So `webhook_door` answers that one method and path itself with the same
view (`queueing.webhooks.resend_webhook`: the same checks, refusals and log lines) and the
middleware that does apply to it, called directly: SecurityMiddleware (the HTTPS redirect
and its exemptions, HSTS, nosniff, referrer and opener policies), CommonMiddleware
(ALLOWED_HOSTS, refused user agents, Content-Length) and XFrameOptionsMiddleware. Every other
request, a GET on the same path included, goes through Django untouched.

The database connection (one per gunicorn thread) is looked after as Django's request
signals would (closed past CONN_MAX_AGE or after an error), except for the health check
before the first query: the store's insert is idempotent and is tried once more on a fresh
connection when the kept one turns out broken, which catches the same failures without a
round trip per webhook (queueing.provider_events.store).
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import reverse

from queueing.webhooks import resend_webhook

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _unused(request: HttpRequest) -> HttpResponse:  # the chain below is called by hand
    raise AssertionError("not called")


def webhook_door(app: WSGIApp) -> WSGIApp:
    """`app` (Django's WSGI handler), with `POST /webhooks/resend` answered directly."""
    path = reverse("resend_webhook")
    # Instantiated once, as Django's handler does at start; only their hooks are called.
    middleware = [
        SecurityMiddleware(_unused),
        CommonMiddleware(_unused),
        XFrameOptionsMiddleware(_unused),
    ]

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != path:
            return app(environ, start_response)
        request = WSGIRequest(environ)
        try:
            response = _respond(request, middleware)
        finally:
            _after_request()
        cookies = (("Set-Cookie", c.output(header="")) for c in response.cookies.values())
        start_response(
            f"{response.status_code} {response.reason_phrase}", [*response.items(), *cookies]
        )
        return [response.content]

    return serve


def _respond(request: WSGIRequest, middleware: list) -> HttpResponse:
    response = None
    try:
        for layer in middleware:
            if hasattr(layer, "process_request"):
                response = layer.process_request(request)
                if response is not None:
                    break
        if response is None:
            response = resend_webhook(request)
    except Exception as exc:  # logged and answered as Django's handler would (500, 400...)
        response = response_for_exception(request, exc)
    for layer in reversed(middleware):
        response = layer.process_response(request, response)
    return response


def _after_request() -> None:
    """Django's request_finished for this thread's connection (closed when too old or after
    an error), then the health check skipped: the store retries on a broken connection."""
    connection.close_if_unusable_or_obsolete()
    connection.health_check_done = True
