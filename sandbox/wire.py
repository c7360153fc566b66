"""A request and an answer as the route handlers see them (JSON in, JSON out), free of
http.server details, so the handlers stay plain functions of (request) -> answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlsplit

from queueing.resend import errors
from queueing.resend.errors import ResendError
from sandbox.refusal import Refused


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # case-insensitive lookups (http.server's message object)
    body: bytes

    @classmethod
    def from_target(
        cls, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Request:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        return cls(method.upper(), path, parse_qs(parts.query), headers, body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @cached_property
    def body_sha256(self) -> str:
        """Hashed once per request: both the idempotency check and the stored emails use it,
        and a batch body is hundreds of kilobytes."""
        return hashlib.sha256(self.body).hexdigest()

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without writing anything


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, encode(payload), dict(headers or {}))


def error_response(error: ResendError, headers: Mapping[str, str] | None = None) -> Response:
    return Response(error.status, encode(error.body()), dict(headers or {}))


def refused_response(refused: Refused, headers: Mapping[str, str] | None = None) -> Response:
    """The refusal's answer; its own headers (retry-after) win over the general ones."""
    return error_response(refused.error, {**(headers or {}), **refused.headers})


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(errors.invalid_json()) from None


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
