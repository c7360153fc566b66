"""A fresh sandbox per test, and an authorised HTTP session for talking to it."""

from collections.abc import Iterator

import pytest
import requests

from sandbox import SandboxServer
from sandbox.testing import TEST_API_KEY, running_sandbox


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update({"Authorization": f"Bearer {TEST_API_KEY}"})
        yield session
