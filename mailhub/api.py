"""The HTTP API: one NinjaAPI at /api, wiring the apps' routers, with Resend's error bodies.

Authentication is by key (`Authorization: Bearer`, queueing.api_auth), so CSRF does not apply
(ninja marks its views CSRF-exempt; its cookie auth would check it, bearer keys need not). The
OpenAPI description (/api/openapi.json) and the docs page (/api/docs) are generated from the
schemas that validate the requests. Every refusal, validation failure and unhandled error
answers `{"statusCode", "name", "message"}`; mailhub/api_middleware.py does the same for
what never reaches ninja (unknown paths, methods, oversized bodies, redirects).
"""

import logging

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from campaigns.api import router as campaigns_router
from queueing.api import router as emails_router
from queueing.api_errors import ApiRefused, error_response
from queueing.api_schemas import RESEND_ERROR
from queueing.resend import errors
from queueing.resend.errors import ResendError
from recipients.api import router as recipients_router

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="mailhub",
    version="1",
    description="Resend-compatible sending, for the company's other services. "
    "See docs/API.md: authentication, scopes, status words, limits.",
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api",
)
api.add_router("/", emails_router)
api.add_router("/", recipients_router)
api.add_router("/", campaigns_router)


@api.exception_handler(ApiRefused)
def _refused(request: HttpRequest, exc: ApiRefused) -> HttpResponse:
    return error_response(exc.error, exc.headers)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(resend_error_of(exc.errors))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(errors.missing_api_key())


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja's own refusals; the one it makes today is a body that is not JSON.
    if exc.status_code == 400:
        return error_response(errors.invalid_json())
    return error_response(ResendError(exc.status_code, "validation_error", exc.message))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("API error on %s %s", request.method, request.path)
    return error_response(errors.internal_server_error())


def resend_error_of(problems: list[dict]) -> ResendError:
    """The first validation problem in Resend's words: a Resend rule's own error as it is;
    a type problem as `Invalid `field` field. …`."""
    first = problems[0] if problems else {}
    ctx = first.get("ctx") or {}
    if first.get("type") == RESEND_ERROR:
        return ResendError(int(ctx["status"]), str(ctx["name"]), str(ctx["message"]))
    location = [str(p) for p in first.get("loc", ())]
    source = location[0] if location else "body"
    # ("body", "payload", "to", 0) → "to[0]"; query and header names as they are.
    parts = location[2:] if source == "body" else location[1:]
    where = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts).lstrip(".") or source
    return errors.validation_error(f"Invalid `{where}` field. {first.get('msg', '')}".strip())
