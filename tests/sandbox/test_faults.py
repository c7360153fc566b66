"""Injected faults: 500, 429, slow answers, dropped answers, and seeded reproducibility."""

import time

import pytest
import requests

from sandbox import SandboxConfig
from sandbox.faults import FaultInjector
from sandbox.testing import TEST_API_KEY, running_sandbox, sample_email

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def test_fail_rate_one_answers_500_and_stores_nothing() -> None:
    with running_sandbox(fail_rate=1) as server:
        response = requests.post(f"{server.url}/emails", json=sample_email(), headers=AUTH)
        assert response.status_code == 500
        assert response.json()["name"] == "internal_server_error"
        assert server.state.emails() == []
        stats = server.state.stats()
        assert stats["faults"]["error_500"] == 1
        assert stats["by_status"] == {"500": 1}


def test_rate_limit_fault_answers_429_with_retry_after() -> None:
    with running_sandbox(rate_limit_fault_rate=1) as server:
        response = requests.post(f"{server.url}/emails", json=sample_email(), headers=AUTH)
        assert response.status_code == 429
        assert response.json()["name"] == "rate_limit_exceeded"
        assert response.headers["retry-after"] == "1"
        assert server.state.emails() == []
        assert server.state.stats()["faults"]["rate_limit_429"] == 1
        assert server.state.stats()["rate_limited"] == 1


def test_slow_answers_take_slow_seconds_and_still_succeed() -> None:
    with running_sandbox(slow_rate=1, slow_seconds=0.3) as server:
        started = time.monotonic()
        response = requests.post(f"{server.url}/emails", json=sample_email(), headers=AUTH)
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 200
        assert server.state.requests()[0]["slow"] is True
        assert server.state.stats()["faults"]["slow"] == 1


def test_client_timeout_on_a_slow_answer_still_stores_the_email() -> None:
    with running_sandbox(slow_rate=1, slow_seconds=0.5) as server:
        with pytest.raises(requests.Timeout):
            requests.post(f"{server.url}/emails", json=sample_email(), headers=AUTH, timeout=0.1)
        deadline = time.monotonic() + 3
        while not server.state.emails() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.state.emails()) == 1


def test_drop_rate_one_closes_the_connection_but_stores_the_email() -> None:
    with running_sandbox(drop_rate=1) as server, requests.Session() as http:
        http.headers.update(AUTH)
        with pytest.raises(requests.ConnectionError):
            http.post(f"{server.url}/emails", json=sample_email())
        assert len(server.state.emails()) == 1
        assert server.state.requests()[0]["outcome"] == "dropped"
        assert server.state.stats()["by_status"] == {}


def test_faults_never_touch_control_endpoints() -> None:
    config = SandboxConfig(fail_rate=1, drop_rate=1, slow_rate=1, slow_seconds=5)
    with running_sandbox(config) as server:
        started = time.monotonic()
        assert requests.get(f"{server.url}/_sandbox/health").json() == {"ok": True}
        assert requests.get(f"{server.url}/_sandbox/stats").status_code == 200
        assert time.monotonic() - started < 1
        assert server.state.stats()["requests"] == 0


def test_seeded_faults_are_reproducible() -> None:
    def statuses(seed: int) -> list[int]:
        with running_sandbox(fail_rate=0.5, seed=seed) as server, requests.Session() as http:
            http.headers.update(AUTH)
            return [
                http.post(f"{server.url}/emails", json=sample_email()).status_code
                for _ in range(12)
            ]

    first = statuses(7)
    assert first == statuses(7)
    assert set(first) == {200, 500}


def test_injector_draws_nothing_without_faults() -> None:
    injector = FaultInjector(seed=1)
    assert not injector.plan(SandboxConfig()).any
    plan = injector.plan(SandboxConfig(fail_rate=1, rate_limit_fault_rate=1))
    assert plan.fail and not plan.throttle  # one answer: the 500 wins
