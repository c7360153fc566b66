"""Resend's error answers: `{"statusCode": N, "name": "...", "message": "..."}`.

The names and default messages follow Resend's published error reference, so code written
against the sandbox handles the same names it will meet in production.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An answer that is an error; raised anywhere in request handling, turned into JSON once."""

    def __init__(
        self,
        status: int,
        name: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        return {"statusCode": self.status, "name": self.name, "message": self.message}

    def with_message(self, message: str) -> ApiError:
        return ApiError(self.status, self.name, message, self.headers)


def validation_error(message: str, status: int = 422) -> ApiError:
    return ApiError(status, "validation_error", message)


def missing_field(field: str) -> ApiError:
    return ApiError(422, "missing_required_field", f"Missing `{field}` field.")


def invalid_json() -> ApiError:
    return validation_error("The request body is not valid JSON.", status=400)


def missing_api_key() -> ApiError:
    return ApiError(401, "missing_api_key", "Missing API key in the authorization header.")


def invalid_api_key() -> ApiError:
    return ApiError(403, "invalid_api_key", "API key is invalid.")


def not_found(message: str = "The requested endpoint does not exist.") -> ApiError:
    return ApiError(404, "not_found", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "method_not_allowed", "Method is not allowed for the requested path.")


def invalid_idempotency_key() -> ApiError:
    return ApiError(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")


def invalid_idempotent_request() -> ApiError:
    return ApiError(
        409,
        "invalid_idempotent_request",
        "Same idempotency key used with a different request payload.",
    )


def concurrent_idempotent_requests() -> ApiError:
    return ApiError(
        409,
        "concurrent_idempotent_requests",
        "Same idempotency key used while original request is still in progress.",
    )


def rate_limit_exceeded(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limit_exceeded",
        "Too many requests. Please limit the number of requests per second.",
        {"retry-after": str(retry_after)},
    )


def daily_quota_exceeded() -> ApiError:
    return ApiError(429, "daily_quota_exceeded", "You have reached your daily email sending quota.")


def internal_server_error() -> ApiError:
    return ApiError(500, "internal_server_error", "An unexpected error occurred.")
