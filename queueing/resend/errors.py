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
RESTRICTED_API_KEY = "restricted_api_key"
INVALID_API_KEY = "invalid_api_key"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
INVALID_IDEMPOTENT_REQUEST = "invalid_idempotent_request"
CONCURRENT_IDEMPOTENT_REQUESTS = "concurrent_idempotent_requests"
INVALID_ATTACHMENT = "invalid_attachment"
INVALID_FROM_ADDRESS = "invalid_from_address"
INVALID_ACCESS = "invalid_access"
INVALID_PARAMETER = "invalid_parameter"
INVALID_REGION = "invalid_region"
RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
DAILY_QUOTA_EXCEEDED = "daily_quota_exceeded"
MONTHLY_QUOTA_EXCEEDED = "monthly_quota_exceeded"
SECURITY_ERROR = "security_error"
INTERNAL_SERVER_ERROR = "internal_server_error"
APPLICATION_ERROR = "application_error"

# The status code Resend usually answers each name with. validation_error is 422 for a field;
# it also comes as 400 (a body that is not JSON), 401 and 403: see ANSWERS.
STATUS_CODES: dict[str, int] = {
    INVALID_IDEMPOTENCY_KEY: 400,
    VALIDATION_ERROR: 422,
    MISSING_API_KEY: 401,
    RESTRICTED_API_KEY: 401,
    INVALID_API_KEY: 403,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    INVALID_IDEMPOTENT_REQUEST: 409,
    CONCURRENT_IDEMPOTENT_REQUESTS: 409,
    INVALID_ATTACHMENT: 422,
    INVALID_FROM_ADDRESS: 422,
    INVALID_ACCESS: 422,
    INVALID_PARAMETER: 422,
    INVALID_REGION: 422,
    MISSING_REQUIRED_FIELD: 422,
    RATE_LIMIT_EXCEEDED: 429,
    DAILY_QUOTA_EXCEEDED: 429,
    MONTHLY_QUOTA_EXCEEDED: 429,
    SECURITY_ERROR: 451,
    APPLICATION_ERROR: 500,
    INTERNAL_SERVER_ERROR: 500,
}

# Every (name, status) pair of Resend's error reference. The status alone does not say what
# went wrong: validation_error is a field (400, 422), a key that does not exist (401, on the
# sending endpoints) or a sender the account may not use (403: an unverified domain, testing
# mode). Whoever reads an answer decides by both (queueing.resend.answers).
ANSWERS: tuple[tuple[str, int], ...] = (
    *((name, status) for name, status in STATUS_CODES.items() if name != VALIDATION_ERROR),
    (VALIDATION_ERROR, 400),
    (VALIDATION_ERROR, 401),
    (VALIDATION_ERROR, 403),
    (VALIDATION_ERROR, 422),
)

# Resend's own words for each answer, where the pair alone says what happened.
DEFAULT_MESSAGES: dict[tuple[str, int], str] = {
    (
        INVALID_IDEMPOTENCY_KEY,
        400,
    ): f"The key must be between 1-{MAX_IDEMPOTENCY_KEY_LENGTH} chars.",
    (VALIDATION_ERROR, 400): "The request body is not valid JSON.",
    (VALIDATION_ERROR, 401): "API key is invalid.",
    (VALIDATION_ERROR, 403): (
        "You can only send testing emails to your own email address. To send emails to other "
        "recipients, please verify a domain at resend.com/domains, and change the `from` "
        "address to an email using this domain."
    ),
    (VALIDATION_ERROR, 422): "Invalid `to` field.",
    (MISSING_API_KEY, 401): "Missing API key in the authorization header.",
    (RESTRICTED_API_KEY, 401): "This API key is restricted to only send emails.",
    (INVALID_API_KEY, 403): "API key is invalid.",
    (NOT_FOUND, 404): "The requested endpoint does not exist.",
    (METHOD_NOT_ALLOWED, 405): "Method is not allowed for the requested path.",
    (INVALID_IDEMPOTENT_REQUEST, 409): (
        "Same idempotency key used with a different request payload."
    ),
    (CONCURRENT_IDEMPOTENT_REQUESTS, 409): (
        "Same idempotency key used while original request is still in progress."
    ),
    (INVALID_ATTACHMENT, 422): "Attachment must have either a `content` or `path`.",
    (INVALID_FROM_ADDRESS, 422): (
        "Invalid `from` field. The email address needs to follow the `email@example.com` or "
        "`Name <email@example.com>` format."
    ),
    (INVALID_ACCESS, 422): 'Access must be "full_access" or "sending_access".',
    (INVALID_PARAMETER, 422): "The `id` must be a valid UUID.",
    (INVALID_REGION, 422): 'Region must be "us-east-1", "eu-west-1" or "sa-east-1".',
    (MISSING_REQUIRED_FIELD, 422): "Missing `to` field.",
    (RATE_LIMIT_EXCEEDED, 429): (
        "Too many requests. Please limit the number of requests per second."
    ),
    (DAILY_QUOTA_EXCEEDED, 429): "You have reached your daily email sending quota.",
    (MONTHLY_QUOTA_EXCEEDED, 429): "You have reached your monthly email sending quota.",
    (SECURITY_ERROR, 451): (
        "We may have found a security issue with the request. Please contact support."
    ),
    (APPLICATION_ERROR, 500): "An unexpected error occurred, please try again later.",
    (INTERNAL_SERVER_ERROR, 500): "An unexpected error occurred.",
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


def answer(name: str, status: int | None = None, message: str | None = None) -> ResendError:
    """Any answer of Resend's reference; ValueError for a pair Resend does not give."""
    status = STATUS_CODES.get(name, 0) if status is None else status
    if (name, status) not in DEFAULT_MESSAGES:
        known = ", ".join(f"{n} {s}" for n, s in ANSWERS)
        raise ValueError(f"Resend does not answer {name!r} with {status}; it answers: {known}")
    return ResendError(status, name, message or DEFAULT_MESSAGES[(name, status)])


def unverified_domain(domain: str) -> ResendError:
    """403: the sending domain is not verified in the account (a sender problem, not a key's)."""
    return validation_error(
        f"The {domain} domain is not verified. Please, add and verify your domain on "
        "https://resend.com/domains",
        status=403,
    )


def daily_quota_exceeded() -> ResendError:
    return error(DAILY_QUOTA_EXCEEDED, "You have reached your daily email sending quota.")


def internal_server_error() -> ResendError:
    return error(INTERNAL_SERVER_ERROR, "An unexpected error occurred.")
