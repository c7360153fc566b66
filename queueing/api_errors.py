"""How the HTTP API refuses a request: an exception carrying Resend's error, and its answer.

Anything under /api that refuses raises `ApiRefused`; the API's exception handler
(mailhub/api.py) turns it into Resend's body `{"statusCode", "name", "message"}` with the
status code, plus any headers it carries (e.g. `retry-after` on a 429).
"""

from collections.abc import Mapping

from django.http import JsonResponse

from queueing.resend.errors import ResendError


class ApiRefused(Exception):
    def __init__(self, error: ResendError, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.headers = dict(headers or {})


def error_response(error: ResendError, headers: Mapping[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
