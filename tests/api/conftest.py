"""Fixtures for the HTTP API: keys, and a client that speaks JSON with a key."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from queueing.api_keys import NewApiKey, api_key_create
from queueing.models import ApiScope


@pytest.fixture
def make_key(db) -> Callable[..., NewApiKey]:
    def make(name: str = "billing", scopes=(ApiScope.SEND,), **kwargs: Any) -> NewApiKey:
        return api_key_create(name=name, scopes=scopes, **kwargs)

    return make


@pytest.fixture
def send_key(make_key) -> NewApiKey:
    return make_key()


class ApiClient:
    """Django's test client with a key and JSON bodies (raw bytes when given bytes)."""

    def __init__(self, secret: str | None) -> None:
        self.client = Client()
        self.secret = secret

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        result = dict(headers or {})
        if self.secret is not None:
            result.setdefault("Authorization", f"Bearer {self.secret}")
        return result

    def call(self, method: str, path: str, body: Any = None, headers=None, **kw):
        data = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
        kw.setdefault("content_type", "application/json")
        return self.client.generic(
            method, f"/api{path}", data=data or b"", headers=self._headers(headers), **kw
        )

    def post(self, path: str, body: Any = None, headers=None, **kw):
        return self.call("POST", path, body, headers, **kw)

    def get(self, path: str, headers=None):
        return self.call("GET", path, None, headers)

    def patch(self, path: str, body: Any = None, headers=None):
        return self.call("PATCH", path, body, headers)


@pytest.fixture
def api(send_key) -> ApiClient:
    return ApiClient(send_key.secret)


@pytest.fixture
def api_as() -> Callable[[str | None], ApiClient]:
    return ApiClient


def email(**overrides: Any) -> dict[str, Any]:
    body = {
        "from": "Billing <billing@example.com>",
        "to": ["ada@example.org"],
        "subject": "Your invoice",
        "html": "<p>Hello</p>",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def assert_error(response, status: int, name: str, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response.content
    body = response.json()
    assert body["statusCode"] == status and body["name"] == name, body
    for fragment in fragments:
        assert fragment in body["message"], body
    return body
