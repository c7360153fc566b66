"""Everything under /api answers JSON in Resend's error shape, and may be as large as Resend
allows; the rest of the site keeps Django's defaults.

Two jobs, for paths under /api only (a body must also be `application/json`, else 415):
- the body limit: MAILHUB_API_MAX_BODY_BYTES (Resend's 40 MB per email, plus base64 and
  JSON overhead) instead of DATA_UPLOAD_MAX_MEMORY_SIZE, which stays Django's 2.5 MB for the
  admin; a larger body is a 413 before anything reads it;
- answers that are not JSON (Django's 404 and 405 pages, a CSRF refusal, a redirect, a 500
  from outside ninja) are rewritten as `{"statusCode", "name", "message"}`, keeping the
  status and the headers. The docs page (/api/docs) is HTML by design and left alone.
Also adds the key's rate-limit headers (set by queueing.api_auth) to every answer.
"""

import io
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from queueing.api_errors import error_response
from queueing.resend import errors
from queueing.resend.errors import ResendError

log = logging.getLogger(__name__)

PREFIX = "/api/"
HTML_PAGES = ("/api/docs",)
# Status → Resend's name for answers Django made without knowing Resend.
NAMES = {
    400: errors.VALIDATION_ERROR,
    401: errors.MISSING_API_KEY,
    403: "invalid_access",
    404: errors.NOT_FOUND,
    405: errors.METHOD_NOT_ALLOWED,
    413: errors.VALIDATION_ERROR,
}
MESSAGES = {
    403: "Access refused.",
    404: "The requested endpoint does not exist.",
    405: "Method is not allowed for the requested path.",
}


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(PREFIX) or request.path == PREFIX.rstrip("/")


class ApiJsonMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api(request):
            return self.get_response(request)
        too_large = _read_body(request)
        if too_large is not None:
            return error_response(too_large)
        response = self.get_response(request)
        for name, value in getattr(request, "api_headers", {}).items():
            response.setdefault(name, value)
        if _is_json(response) or (request.path in HTML_PAGES and response.status_code == 200):
            return response
        return _as_json(response)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None
        log.exception("API error outside the API's views on %s %s", request.method, request.path)
        return error_response(errors.internal_server_error())


def _read_body(request: HttpRequest) -> ResendError | None:
    """Read the body under the API's limit; a refusal if it is larger."""
    limit = settings.MAILHUB_API_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _too_large(declared, limit)
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") and not declared:
        return None
    if not request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer "):
        # Every endpoint with a body needs a key: no one without one makes a worker buffer
        # up to the limit (the key itself is checked by the view, as usual).
        return errors.missing_api_key()
    # Read here (HttpRequest.body would apply DATA_UPLOAD_MAX_MEMORY_SIZE); what is read is
    # kept where HttpRequest.body keeps it, so views read it as usual.
    body = request.read(limit + 1)
    if len(body) > limit:
        return _too_large(len(body), limit)
    request._body = body
    request._stream = io.BytesIO(body)
    if body and request.content_type != "application/json":
        return errors.validation_error(
            f"The Content-Type is `{request.content_type or 'missing'}`: send `application/json`.",
            status=415,
        )
    return None


def _too_large(size: int, limit: int) -> ResendError:
    return errors.validation_error(
        f"The request body is {size:,} bytes; the limit is {limit:,} bytes.", status=413
    )


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _as_json(response: HttpResponse) -> HttpResponse:
    status = response.status_code
    if 300 <= status < 400:
        error = ResendError(
            status, "redirect", f"Moved to {response.get('Location', 'another address')}."
        )
    elif status >= 500:
        error = ResendError(status, errors.INTERNAL_SERVER_ERROR, "An unexpected error occurred.")
    else:
        name = NAMES.get(status, errors.VALIDATION_ERROR)
        error = ResendError(status, name, MESSAGES.get(status, f"Request refused ({status})."))
    rewritten = error_response(error)
    for name, value in response.items():
        if name.lower() not in ("content-type", "content-length"):
            rewritten[name] = value
    return rewritten
