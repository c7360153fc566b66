"""Helpers for tests that talk to a sandbox: start one, point the `resend` SDK at it, and build
a valid send request. Plain context managers, so any test suite can wrap them in fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import resend

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

TEST_API_KEY = "re_sandbox_test"


@contextmanager
def running_sandbox(config: SandboxConfig | None = None, **fields: Any) -> Iterator[SandboxServer]:
    """A started sandbox on a free port, stopped afterwards; `fields` build the config."""
    server = SandboxServer(config=config or SandboxConfig(**fields))
    with server:
        yield server


@contextmanager
def resend_pointed_at(url: str, api_key: str = TEST_API_KEY) -> Iterator[None]:
    """Point the SDK's module-level settings at `url`, and restore them afterwards."""
    saved = resend.api_url, resend.api_key
    resend.api_url, resend.api_key = url, api_key
    try:
        yield
    finally:
        resend.api_url, resend.api_key = saved


def sample_email(**overrides: Any) -> dict[str, Any]:
    """A valid SendEmailRequest; `overrides` replace fields (value None removes the field)."""
    email: dict[str, Any] = {
        "from": "Acme <news@acme.example.com>",
        "to": ["ada@example.com"],
        "subject": "Hello",
        "html": "<p>Hello</p>",
        "text": "Hello",
    }
    for name, value in overrides.items():
        name = name.removesuffix("_")  # from_="..." for the reserved word
        if value is None:
            email.pop(name, None)
        else:
            email[name] = value
    return email
