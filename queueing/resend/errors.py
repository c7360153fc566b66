"""Resend's error answers: the names it gives, their status codes and messages, and the body
`{"statusCode": N, "name": "...", "message": "..."}`.

The names, codes and default messages follow Resend's published error reference, so what answers
in Resend's shape (the sandbox, mailhub's HTTP API) gives the names a client meets in
production. Plain values, no Django: whoever answers turns `body()` into JSON its own way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from queueing.resend.limits import MAX_IDEMPOTENCY_KEY_LENGTH

VALIDATION_ERROR = "validation_error"
MISSING_REQUIRED_FIELD = "missing_required_field"
MISSING_API_KEY = "missing_api_key"
INVALID_API_KEY = "invalid_api_key"
RESTRICTED_API_KEY = "restricted_api_key"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
INVALID_IDEMPOTENT_REQUEST = "invalid_idempotent_request"
CONCURRENT_IDEMPOTENT_REQUESTS = "concurrent_idempotent_requests"
RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
DAILY_QUOTA_EXCEEDED = "daily_quota_exceeded"
INTERNAL_SERVER_ERROR = "internal_server_error"
APPLICATION_ERROR = "application_error"

# The status code Resend answers each name with (validation_error is 400 for a body that is not
# JSON, 422 for a field).
STATUS_CODES: dict[str, int] = {
    VALIDATION_ERROR: 422,
    MISSING_REQUIRED_FIELD: 422,
    MISSING_API_KEY: 401,
    INVALID_API_KEY: 403,
    RESTRICTED_API_KEY: 401,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    INVALID_IDEMPOTENCY_KEY: 400,
    INVALID_IDEMPOTENT_REQUEST: 409,
    CONCURRENT_IDEMPOTENT_REQUESTS: 409,
    RATE_LIMIT_EXCEEDED: 429,
    DAILY_QUOTA_EXCEEDED: 429,
    INTERNAL_SERVER_ERROR: 500,
    APPLICATION_ERROR: 500,
}


@dataclass(frozen=True, slots=True)
class ResendError:
    """One error answer. A value, not an exception: rules return it, callers decide."""

    status: int
    name: str
    message: str

    def body(self) -> dict[str, object]:
        return {"statusCode": self.status, "name": self.name, "message": self.message}

    def with_message(self, message: str) -> ResendError:
        return dataclasses.replace(self, message=message)


def error(name: str, message: str) -> ResendError:
    """The answer `name` with its usual status code."""
    return ResendError(STATUS_CODES[name], name, message)


def validation_error(message: str, status: int = STATUS_CODES[VALIDATION_ERROR]) -> ResendError:
    return ResendError(status, VALIDATION_ERROR, message)


def missing_field(field: str) -> ResendError:
    return error(MISSING_REQUIRED_FIELD, f"Missing `{field}` field.")


def invalid_json() -> ResendError:
    return validation_error("The request body is not valid JSON.", status=400)


def missing_api_key() -> ResendError:
    return error(MISSING_API_KEY, "Missing API key in the authorization header.")


def invalid_api_key() -> ResendError:
    return error(INVALID_API_KEY, "API key is invalid.")


def restricted_api_key(
    message: str = "This API key is restricted to other endpoints.",
) -> ResendError:
    return error(RESTRICTED_API_KEY, message)


def not_found(message: str = "The requested endpoint does not exist.") -> ResendError:
    return error(NOT_FOUND, message)


def method_not_allowed() -> ResendError:
    return error(METHOD_NOT_ALLOWED, "Method is not allowed for the requested path.")


def invalid_idempotency_key() -> ResendError:
    return error(
        INVALID_IDEMPOTENCY_KEY, f"The key must be between 1-{MAX_IDEMPOTENCY_KEY_LENGTH} chars."
    )


def invalid_idempotent_request() -> ResendError:
    return error(
        INVALID_IDEMPOTENT_REQUEST, "Same idempotency key used with a different request payload."
    )


def concurrent_idempotent_requests() -> ResendError:
    return error(
        CONCURRENT_IDEMPOTENT_REQUESTS,
        "Same idempotency key used while original request is still in progress.",
    )


def rate_limit_exceeded() -> ResendError:
    """Resend sends a `retry-after` header with it; the header is the answering side's job."""
    return error(
        RATE_LIMIT_EXCEEDED, "Too many requests. Please limit the number of requests per second."
    )


def daily_quota_exceeded() -> ResendError:
    return error(DAILY_QUOTA_EXCEEDED, "You have reached your daily email sending quota.")


def internal_server_error() -> ResendError:
    return error(INTERNAL_SERVER_ERROR, "An unexpected error occurred.")
